"""Keeps ``python -m bench.protocol_load`` (and ``bench.server_load --protocol``) working.

Each protocol run's check is tried on made-up frames (a proper run, and each way one can
be wrong); the medians, ratios, table and the docs' ``<!-- bench: protocol -->`` renderer
on made-up results; the entry point once for real on a tiny run of streamtap's two cells
(every frame of every run verified). No timing or CPU figure is asserted: that is the
benchmark's job. The ``langgraph dev`` cell (a few seconds: its queue polls every 0.5 s)
only runs with ``STREAMTAP_BENCH_LANGGRAPH=1``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import bench.protocol_load as protocol_load
from bench.protocol_load import (
    CELLS,
    MEDIAN_KEYS,
    check_run,
    events_per_run,
    expected_kinds,
    summarize,
    table,
)

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = 3


def _frames(chunks: int = CHUNKS, first_seq: int = 1) -> list[tuple[str | None, str, Any]]:
    """A proper run as SSEReader gives it: ``(id, event, envelope)``, seqs with a gap (a
    channel not read)."""
    out = []
    seq = first_seq
    for n, kind in enumerate(expected_kinds(chunks)):
        method, _, event = kind.partition(":")
        data: dict[str, Any] = {"event": event} if event else {"messages": []}
        if event == "content-block-delta":
            data["delta"] = {"type": "text-delta", "text": f"c{n - 4} "}
        envelope = {
            "type": "event",
            "event_id": f"e{seq}",
            "seq": seq,
            "method": method,
            "params": {"namespace": [], "timestamp": 0, "data": data},
        }
        out.append((str(seq), method, envelope))
        seq += 2 if n == 1 else 1
    return out


def test_a_proper_run_passes_and_each_fault_is_named() -> None:
    assert len(expected_kinds(CHUNKS)) == events_per_run("protocol", CHUNKS) == CHUNKS + 8
    assert events_per_run("classic", CHUNKS) == CHUNKS + 3
    assert check_run(_frames(), CHUNKS) is None
    assert check_run(_frames(first_seq=40), CHUNKS) is None  # a thread's later run

    frames = _frames()
    assert "not 11" in (check_run(frames[:-1], CHUNKS) or "")  # no root `completed`
    wrong = list(frames)
    wrong[5] = ("99", *wrong[5][1:])
    assert "SSE id" in (check_run(wrong, CHUNKS) or "")
    wrong = list(frames)
    wrong[4], wrong[5] = wrong[5], wrong[4]
    assert "seqs not increasing" in (check_run(wrong, CHUNKS) or "")
    wrong = [(i, e, {**d, "event_id": "same"}) for i, e, d in frames]
    assert "event id sent twice" in (check_run(wrong, CHUNKS) or "")
    wrong = list(frames)
    envelope = json.loads(json.dumps(wrong[5][2]))
    envelope["params"]["data"]["delta"]["text"] = "x"
    wrong[5] = (wrong[5][0], wrong[5][1], envelope)
    assert "deltas" in (check_run(wrong, CHUNKS) or "")
    wrong = list(frames)
    envelope = json.loads(json.dumps(wrong[5][2]))
    envelope["params"]["namespace"] = ["agent:1"]
    wrong[5] = (wrong[5][0], wrong[5][1], envelope)
    assert "root namespace" in (check_run(wrong, CHUNKS) or "")
    assert "frame 1 is 'messages:message-start'" in (
        check_run(frames[:1] + frames[2:], CHUNKS) or ""
    )


def _cell(cell: str, clients: int, cpu: float, eps: float, ttft: float) -> dict[str, Any]:
    per_run = events_per_run(cell, 200)
    return {
        "cell": cell,
        "clients": clients,
        "runs": 10,
        "events": 10 * per_run,
        "failures": 0,
        "failure_messages": [],
        "events_per_second": eps,
        "events_per_run": per_run,
        "logged_per_run": 214 if cell == "protocol" else (208 if cell != "classic" else None),
        "server_cpu_us_per_event": cpu,
        "server_cpu_ms_per_run": round(cpu * per_run / 1000, 3),
        "ttft_ms_p50": ttft,
        "ttft_ms_p99": ttft * 2,
        "command_ms_p50": None if cell == "classic" else 3.0,
        "peak_rss_mb": 100.0,
    }


def _results() -> dict[str, Any]:
    figures = {  # cell: (CPU µs/event, events/s, TTFT p50 ms) at C = 1 and 20
        "classic": ((25.0, 20_000, 2.0), (24.0, 20_000, 20.0)),
        "protocol": ((100.0, 5_000, 4.0), (96.0, 7_000, 40.0)),
        "langgraph-dev": ((300.0, 200, 1000.0), (240.0, 2_000, 1300.0)),
    }
    rounds = []
    for n in range(2):  # the second round 10 % slower: medians sit between them
        cells = [
            _cell(cell, c, cpu * (1 + n / 10), eps / (1 + n / 10), ttft * (1 + n / 10))
            for cell, per_c in figures.items()
            for c, (cpu, eps, ttft) in zip((1, 20), per_c, strict=True)
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
        "versions": {"streamtap": "0.1.0", "streamtap_commit": "abc1234", "langgraph-api": "9.9"},
        "config": {
            "cells": list(CELLS),
            "concurrency": [1, 20],
            "chunks": 200,
            "events_per_cell": 20_000,
            "langgraph_events_per_cell": 3_000,
            "rounds": 2,
            "channels": ["messages", "lifecycle", "values", "input"],
            "events_per_run": {cell: events_per_run(cell, 200) for cell in CELLS},
        },
        "rounds": rounds,
        "notes": ["a note"],
        "server_log_lines": {"classic": 0, "protocol": 1, "langgraph-dev": 40},
        "warmup": {cell: {"rss_mb": 100.0} for cell in CELLS},
        "final_rss_mb": {"classic": 101.0, "protocol": 140.0, "langgraph-dev": 102.0},
        "failures": [],
    }
    summarize(results)
    return results


def test_summarize_takes_medians_and_both_ratios() -> None:
    results = _results()
    med = results["medians"]
    assert set(med) == set(CELLS) and set(med["protocol"]) == {"1", "20"}
    for key in MEDIAN_KEYS:
        assert key in med["protocol"]["20"]
    assert med["protocol"]["1"]["server_cpu_us_per_event"] == pytest.approx(105.0)  # 100, 110
    assert med["classic"]["1"]["command_ms_p50"] is None
    ratios = results["ratios"]
    assert set(ratios) == {"protocol/classic", "protocol/langgraph-dev"}
    assert ratios["protocol/classic"]["1"]["server_cpu_us_per_event"] == pytest.approx(4.0)
    assert ratios["protocol/langgraph-dev"]["20"]["server_cpu_us_per_event"] == pytest.approx(0.4)
    assert ratios["protocol/classic"]["20"]["events_per_second"] == pytest.approx(0.35)
    # MB gained over the runs measured (40 a cell: 2 rounds x 2 C x 10 runs), in KB a run
    assert results["rss_growth_kb_per_run"] == {
        "classic": 25.0,
        "protocol": 1000.0,
        "langgraph-dev": 50.0,
    }


def test_the_table_shows_every_cell_the_ratios_and_the_events_per_run() -> None:
    rendered = table(_results())
    for c in (1, 20):
        assert rendered.count(f"| {c} | streamtap | `/runs/stream` | 203 |") == 1
        assert rendered.count(f"| {c} | streamtap | protocol | 208 |") == 1
        assert rendered.count(f"| {c} | `langgraph dev` | protocol | 208 |") == 1
    assert "| 1 | streamtap | protocol | 208 | 105.0 | 21.84 | 4,773 | 4.2 |" in rendered
    assert "| 1 | streamtap protocol ÷ classic | 4.00 |" in rendered
    assert "| 20 | protocol: streamtap ÷ `langgraph dev` | 0.40 |" in rendered
    assert "203 classic events" in rendered and "208 protocol frames" in rendered
    assert "streamtap 214, `langgraph dev` 208" in rendered
    assert "streamtap, protocol 1,000 KB, `langgraph dev`, protocol 50 KB" in rendered
    assert "`langgraph dev` wrote 40 log lines" in rendered and "*a note.*" in rendered


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
    assert hooks._TABLES["protocol"] is hooks._protocol
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    assert hooks._protocol({}) == ""  # no results file yet: nothing, and a warning
    results = _results()
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench/protocol_load.json").write_text(json.dumps(results), encoding="utf-8")
    rendered = hooks._protocol({})
    head, _, rest = rendered.partition("\n\n")
    assert head.startswith("Run of 2025-01-02 03:04 UTC: 2-CPU Test CPU, load average 0.50–1.25")
    assert "streamtap at abc1234" in head and "langgraph-api 9.9" in head
    assert "(3,000 for `langgraph dev`)" in head
    assert rest == table(results)


def test_write_records_only_the_full_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        protocol_load.main(["--write", "--rounds", "1"])
    assert exit_.value.code == 2
    assert "--json PATH" in capsys.readouterr().err


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _run(tmp: Path, cells: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp / "protocol_load.json"
    cmd = [
        sys.executable, "-m", "bench.server_load", "--protocol", "--cells", cells,
        "--concurrency", "2", "--chunks", str(CHUNKS), "--events-per-cell", "44",
        "--langgraph-events-per-cell", "22", "--rounds", "1", "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text(encoding="utf-8"))


def _check(results: dict[str, Any], cells: list[str], runs: dict[str, int]) -> None:
    assert results["failures"] == [] and results["config"]["cells"] == cells
    [record] = results["rounds"]
    assert sorted(cell["cell"] for cell in record["cells"]) == sorted(cells)
    for cell in record["cells"]:
        per_run = events_per_run(cell["cell"], CHUNKS)
        assert cell["failures"] == 0 and cell["runs"] == 2 * runs[cell["cell"]]
        assert cell["events"] == cell["runs"] * per_run and cell["events_per_run"] == per_run
        keys = ["server_cpu_us_per_event", "server_cpu_ms_per_run", "ttft_ms_p50"]
        if cell["cell"] != "classic":
            keys += ["command_ms_p50", "logged_per_run"]
            assert cell["logged_per_run"] >= per_run  # the stream's frames, and more
        for key in keys:
            assert _number(cell[key]), (cell["cell"], key)


def test_a_tiny_run_through_server_load_protocol(tmp_path: Path) -> None:
    done, results = _run(tmp_path, "classic,protocol")
    # 44 events / (2 clients x 6 per classic run, 11 per protocol run)
    _check(results, ["classic", "protocol"], {"classic": 4, "protocol": 2})
    assert set(results["ratios"]) == {"protocol/classic"}
    assert set(results["rss_growth_kb_per_run"]) == {"classic", "protocol"}
    assert "langgraph dev was not measured" in results["notes"][0]
    rendered = table(results)
    assert rendered in done.stdout and "| 2 | streamtap protocol ÷ classic |" in rendered


@pytest.mark.skipif(
    os.environ.get("STREAMTAP_BENCH_LANGGRAPH") != "1",
    reason="langgraph dev smoke run: set STREAMTAP_BENCH_LANGGRAPH=1 (about 8 s)",
)
def test_langgraph_dev_through_the_entry_point(tmp_path: Path) -> None:
    pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] is not installed")
    _, results = _run(tmp_path, "protocol,langgraph-dev")
    _check(results, ["protocol", "langgraph-dev"], {"protocol": 2, "langgraph-dev": 1})
    assert set(results["ratios"]) == {"protocol/langgraph-dev"}
    assert "| 2 | `langgraph dev` | protocol | 11 |" in table(results)
