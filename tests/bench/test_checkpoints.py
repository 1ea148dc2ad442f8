"""Keeps the checkpoint benchmark group (``bench/checkpoints.py``) working, shape only.

Speed is the benchmark's business, never a test's: these runs are tiny (two nodes, one round)
and check that every variant ran, the steps were counted from the saver, the ratios were
computed, a missing PostgreSQL server skips its rows with the reason, and that running the
group alone leaves the rest of results.json as it was.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import checkpoints
from bench.cli import main

TINY: dict[str, Any] = {"nodes": 2, "repeats": 1, "warmup": 0, "runs_per_round": 1}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_row(row: dict[str, Any], saver: str, mode: str) -> None:
    assert (row["saver"], row["mode"]) == (saver, mode)
    assert row["saver_class"] == checkpoints.SAVER_CLASS[saver, mode]
    # the input, __start__ and one checkpoint per node, counted from the saver
    assert row["nodes"] == 2 and row["steps_per_run"] == 4
    assert row["rounds"] == 1
    for variant in checkpoints.VARIANTS:
        figures = row[variant]
        for key in ("us_per_step", "floor_us_per_step", "cpu_us_per_step"):
            assert _number(figures[key]) and figures[key] > 0, (variant, key)
        assert _number(figures["checkpoint_us_per_step"]), variant
    assert row["langgraph_durable"]["floor_us_per_step"] == row["langgraph"]["floor_us_per_step"]
    assert _number(row["ratio"]) and row["ratio"] > 0
    assert _number(row["durable_ratio"]) and row["durable_ratio"] > 0
    for key in ("checkpoint_ratio", "durable_checkpoint_ratio"):
        assert row[key] is None or _number(row[key])  # None only when LangGraph's cost <= 0


def test_memory_and_sqlite_rows_in_both_modes(tmp_path: Path) -> None:
    section = checkpoints.run(savers=("memory", "sqlite"), sqlite_dir=tmp_path, **TINY)
    rows = [(row["saver"], row["mode"]) for row in section["rows"]]
    assert rows == [
        ("memory", "sync"),
        ("memory", "async"),
        ("sqlite", "sync"),
        ("sqlite", "async"),
    ]
    for row in section["rows"]:
        _check_row(row, row["saver"], row["mode"])
    assert section["skipped"] == {}
    assert section["sqlite_dir"]["base"] == str(tmp_path)
    assert section["servers"]["sqlite"]
    assert list(tmp_path.iterdir()) == []  # the SQLite files went with the run
    for key in ("date", "load_average_start", "load_average_end", "duration_s"):
        assert key in section["machine"]
    assert section["versions"]["langgraph-checkpoint"]
    printed = checkpoints.table(section)
    assert "memory" in printed and "sqlite" in printed and "async" in printed


def test_no_postgres_server_skips_its_rows_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(self: checkpoints.Resources) -> str:
        raise checkpoints.SaverUnavailable("no server here")

    monkeypatch.setattr(checkpoints.Resources, "postgres", unavailable)
    section = checkpoints.run(savers=("memory", "postgres"), modes=("sync",), **TINY)
    assert [row["saver"] for row in section["rows"]] == ["memory"]
    assert section["skipped"] == {"postgres/sync": "no server here"}
    assert "postgres/sync: skipped (no server here)" in checkpoints.table(section)


def test_unknown_saver_is_an_error() -> None:
    with pytest.raises(ValueError, match="redis"):
        checkpoints.run(savers=("redis",), **TINY)


def test_checkpoints_only_replaces_just_its_key_in_results_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = {"schema_version": 1, "openai": {"raw_sdk": {"us_per_chunk": 1.0}}}
    (tmp_path / "results.json").write_text(json.dumps(committed), encoding="utf-8")
    argv = [
        "--checkpoints-only", "--out-dir", str(tmp_path), "--warmup", "0",
        "--checkpoint-savers", "memory", "--checkpoint-modes", "sync",
        "--checkpoint-nodes", "2", "--checkpoint-repeats", "1", "--checkpoint-runs", "1",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "memory" in capsys.readouterr().out  # the table went to stdout
    written = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in written.items() if k != "checkpoints"} == committed
    (row,) = written["checkpoints"]["rows"]
    _check_row(row, "memory", "sync")
