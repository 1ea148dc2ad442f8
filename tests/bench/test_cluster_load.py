"""Keeps ``python -m bench.cluster_load`` (and ``bench.server_load --cluster``) working.

The table and the docs' ``<!-- bench: cluster -->`` renderer are checked on made-up
results (medians, ratios, the trace line); the entry point once for real on a tiny run
(a Postgres and a redis-server per pg layout, every token verified), skipped where
either is missing. No timing or CPU figure is asserted: that is the benchmark's job.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import bench.cluster_load as cluster_load
from bench.cluster_load import LAYOUTS, MEDIAN_KEYS, summarize, table
from bench.server_load import _in_order

ROOT = Path(__file__).resolve().parents[2]


def _cell(layout: str, clients: int, eps: float, cpu: float, ttft: float) -> dict[str, Any]:
    pg = layout != "memory"
    return {
        "layout": layout,
        "clients": clients,
        "runs": 10,
        "events": 2030,
        "failures": 0,
        "failure_messages": [],
        "events_per_second": eps,
        "server_cpu_us_per_event": cpu,
        "postgres_cpu_us_per_event": 10.0 if pg else None,
        "redis_cpu_us_per_event": 20.0 if pg else None,
        "all_cpu_us_per_event": cpu + 30.0 if pg else cpu,
        "ttft_ms_p50": ttft,
        "ttft_ms_p99": ttft * 2,
        "redis_commands_per_run": 400.0 if pg else None,
        "peak_rss_mb": 100.0,
        "server_cpu_share": [0.5, 0.25, 0.25] if layout == "pg-3" else [1.0],
        "others_cpu_percent": 3.0,
    }


def _results() -> dict[str, Any]:
    figures = {  # layout: (events/s, CPU µs/event, TTFT p50 ms) at C = 1 and 20
        "memory": ((30_000, 20.0, 1.5), (40_000, 24.0, 6.0)),
        "pg-1": ((3_000, 240.0, 6.5), (4_000, 200.0, 400.0)),
        "pg-3": ((3_000, 250.0, 9.5), (6_000, 190.0, 100.0)),
    }
    rounds = []
    for n in range(2):  # the second round 10 % slower: medians sit between them
        cells = [
            _cell(layout, c, eps / (1 + n / 10), cpu * (1 + n / 10), ttft * (1 + n / 10))
            for layout, per_c in figures.items()
            for c, (eps, cpu, ttft) in zip((1, 20), per_c, strict=True)
        ]
        rounds.append({"round": n + 1, "order": {}, "cells": cells})
    results: dict[str, Any] = {
        "machine": {
            "date": "2025-01-02T03:04:05+00:00",
            "cpus": 2,
            "cpu": "Test CPU",
            "implementation": "CPython 3.12.0",
            "load_average_start": [0.5, 0.5, 0.5],
            "load_average_end": [1.25, 1.0, 0.5],
        },
        "versions": {"streamtap": "0.1.0", "streamtap_commit": "abc1234", "psycopg": "3.3"},
        "config": {
            "layouts": list(LAYOUTS),
            "concurrency": [1, 20],
            "processes": {"memory": 1, "pg-1": 1, "pg-3": 3},
            "chunks": 200,
            "events_per_cell": 20_000,
            "rounds": 2,
            "jobs": 10,
        },
        "rounds": rounds,
        "traces": {
            "pg-1": {
                "runs": 20,
                "ttft_ms_p50": 7.8,
                "postgres_statements_per_run": 25.0,
                "postgres_before_first_token_per_run": 16.0,
                "postgres_pool_checks_per_run": 9.0,
                "postgres_statements": {"UPDATE streamtap_runs": 5.0, "BEGIN": 2.0},
                "redis_commands_per_run": 422.4,
                "redis_commands": {"xadd": 203.0, "xread": 202.0},
            },
            "pg-3": {"runs": 20, "skipped": "no log"},
        },
        "notes": ["a note"],
    }
    summarize(results)
    return results


def test_summarize_takes_medians_and_the_issues_ratios() -> None:
    results = _results()
    med = results["medians"]
    assert set(med) == set(LAYOUTS) and set(med["pg-1"]) == {"1", "20"}
    for key in MEDIAN_KEYS:
        assert key in med["pg-3"]["20"]
    assert med["memory"]["1"]["postgres_cpu_us_per_event"] is None
    assert med["pg-1"]["1"]["server_cpu_us_per_event"] == pytest.approx(252.0)  # 240, 264
    assert med["pg-3"]["1"]["server_cpu_share"] == [0.5, 0.25, 0.25]
    ratios = results["ratios"]["1"]
    assert ratios["pg1_over_memory_server_cpu"] == pytest.approx(12.0)
    assert ratios["pg3_over_pg1_events_per_second"] == pytest.approx(1.0)
    assert ratios["ttft_added_ms_p50_pg1"] == pytest.approx(6.825 - 1.575, abs=0.01)
    assert results["ratios"]["20"]["pg3_over_pg1_events_per_second"] == pytest.approx(1.5)
    assert results["others_cpu_percent"] == {"min": 3.0, "median": 3.0, "max": 3.0}


def test_the_table_shows_every_cell_the_ratios_and_the_trace() -> None:
    rendered = table(_results())
    for c in (1, 20):
        for layout, processes in (("memory", 1), ("pg-1", 1), ("pg-3", 3)):
            assert rendered.count(f"| {c} | {layout} | {processes} |") == 1
    assert "| 1 | memory | 1 | 28,636 | 21.0 | — | — |" in rendered  # medians of two rounds
    assert "| 1 | 12.00 |" in rendered  # pg-1 ÷ memory server CPU per event
    assert "| 50 % / 25 % / 25 % |" in rendered
    assert "One run on pg-1 (20 runs one at a time" in rendered
    assert "25 Postgres statements (about 16 before the first token; 9 of them" in rendered
    assert "UPDATE streamtap_runs × 5" in rendered and "XADD × 203" in rendered
    assert "*pg-3: no trace (no log).*" in rendered
    assert "*a note.*" in rendered and "used 3–3 % of a core" in rendered


def _hooks(monkeypatch: pytest.MonkeyPatch) -> Any:
    """docs/_hooks/streamtap_docs.py, with a stand-in for the mkdocs it imports (the docs
    have an environment of their own)."""
    files = types.ModuleType("mkdocs.structure.files")
    files.File = files.Files = object  # type: ignore[attr-defined]
    for name in ("mkdocs", "mkdocs.structure"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "mkdocs.structure.files", files)
    spec = importlib.util.spec_from_file_location(
        "_streamtap_docs_hooks", ROOT / "docs/_hooks/streamtap_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_marker_renders_the_results_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hooks = _hooks(monkeypatch)
    assert hooks._TABLES["cluster"] is hooks._cluster
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    assert hooks._cluster({}) == ""  # no results file yet: nothing, and a warning
    results = _results()
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench/cluster_load.json").write_text(json.dumps(results), encoding="utf-8")
    rendered = hooks._cluster({})
    head, _, rest = rendered.partition("\n\n")
    assert head.startswith("Run of 2025-01-02 03:04 UTC: 2-CPU Test CPU, load average 0.50–1.25")
    assert "streamtap at abc1234" in head and "psycopg 3.3" in head
    assert "a pg process runs at most 10 runs at once" in head
    assert rest == table(results)


def test_redis_stream_ids_are_checked_in_order() -> None:
    assert _in_order(["1", "2", "3"], True) and not _in_order(["1", "3"], True)
    assert _in_order(["1700-0", "1700-1", "1701-0"], "stream")
    assert not _in_order(["1700-1", "1700-0"], "stream")
    assert not _in_order(["1700-0", "1700-0"], "stream")
    assert not _in_order(["1700-0", None, "x"], "stream")


def test_write_records_only_the_full_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cluster_load.main(["--write", "--rounds", "1"])
    assert exit_.value.code == 2
    assert "--json PATH" in capsys.readouterr().err


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_a_tiny_run_through_server_load_cluster(tmp_path: Path) -> None:
    out = tmp_path / "cluster_load.json"
    cmd = [
        sys.executable, "-m", "bench.server_load", "--cluster", "--concurrency", "2",
        "--chunks", "5", "--events-per-cell", "48", "--rounds", "1", "--trace-runs", "2",
        "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if "cluster_load: skipped:" in done.stderr:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["failures"] == []
    assert results["config"]["runs_per_client"] == {"2": 3}  # 48 / (2 clients x 8 per run)
    for key in ("python", "streamtap", "psycopg", "redis", "uvicorn"):
        assert key in results["versions"]
    [record] = results["rounds"]
    assert sorted(cell["layout"] for cell in record["cells"]) == sorted(LAYOUTS)
    for cell in record["cells"]:
        assert cell["failures"] == 0 and cell["runs"] == 6 and cell["events"] == 6 * 8
        for key in ("events_per_second", "server_cpu_us_per_event", "ttft_ms_p50"):
            assert _number(cell[key]), (cell["layout"], key)
        pg = cell["layout"] != "memory"
        assert _number(cell["redis_commands_per_run"]) == pg
        assert len(cell["server_cpu_share"]) == cell["processes"]
    for name in ("pg-1", "pg-3"):
        found = results["traces"][name]
        assert found["failures"] == [] and found["postgres_statements_per_run"] > 0
        assert found["redis_commands"]["xadd"] >= 8  # an XADD per event, the metadata too
    rendered = table(results)
    assert rendered in done.stdout and "One run on pg-3" in rendered
