"""Keeps ``python -m bench.frontends_load`` (and ``bench.server_load --frontends``) working.

Each frontend run's check is tried on made-up frames (a proper run, and ways one can be
wrong), the SSE reader on a frame split across reads; the medians, ratios, table and the
docs' ``<!-- bench: frontends -->`` renderer on made-up results; the entry point once for
real on a tiny run of every route, the content-rich answer included (every frame of every
run verified). No timing, CPU or byte figure is asserted: that is the benchmark's job.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bench.frontends_load as frontends_load
from bench.frontends_load import (
    CELLS,
    DONE,
    FRONTENDS,
    MEDIAN_KEYS,
    DataReader,
    check_run,
    events_per_run,
    expected_kinds,
    summarize,
    table,
)
from tests.bench.test_protocol_load import _hooks

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = 3


def _frames(cell: str, chunks: int = CHUNKS) -> list[Any]:
    """A proper run of ``cell``'s route, as :class:`DataReader` gives it."""
    out: list[Any] = []
    texts = iter(f"c{i} " for i in range(chunks))
    for kind in expected_kinds(cell, chunks):
        if kind == DONE:
            out.append(DONE)
        elif cell == "ai-sdk":
            part: dict[str, Any] = {"type": kind}
            if kind.startswith("text-"):
                part["id"] = "m1:0"
            if kind == "text-delta":
                part["delta"] = next(texts)
            if kind == "finish":
                part["finishReason"] = "stop"
            out.append(part)
        elif cell == "ag-ui":
            event: dict[str, Any] = {"type": kind}
            if kind.startswith("TEXT_MESSAGE"):
                event["messageId"] = "lc_run--1"
            if kind == "TEXT_MESSAGE_CONTENT":
                event["delta"] = next(texts)
            if kind in ("RUN_STARTED", "RUN_FINISHED"):
                event.update(threadId="t", runId="r1")
            if kind == "RUN_FINISHED":
                event["outcome"] = {"type": "success"}
            out.append(event)
        else:
            delta = {"role": "assistant", "content": ""} if kind == "role" else {}
            if kind == "content":
                delta = {"content": next(texts)}
            choice = {
                "index": 0,
                "delta": delta,
                "finish_reason": "stop" if kind == "finish" else None,
            }
            out.append(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "model": "agent",
                    "choices": [choice],
                }
            )
    return out


@pytest.mark.parametrize("cell", FRONTENDS)
def test_a_proper_run_passes_and_each_fault_is_named(cell: str) -> None:
    frames = _frames(cell)
    assert len(frames) == events_per_run(cell, CHUNKS)
    assert check_run(cell, frames, CHUNKS) is None
    assert "frames, not" in (check_run(cell, frames[:-1], CHUNKS) or "")  # no proper end
    twice = frames[:5] + frames[4:]  # a delta sent twice
    assert "frames, not" in (check_run(cell, twice, CHUNKS) or "")
    swapped = json.loads(json.dumps(frames))
    text = {"ai-sdk": 3, "ag-ui": 4, "openai": 1}[cell]
    swapped[text], swapped[text + 1] = swapped[text + 1], swapped[text]  # out of order
    assert "deltas" in (check_run(cell, swapped, CHUNKS) or "")
    wrong = json.loads(json.dumps(frames))
    if cell == "ai-sdk":
        wrong[-2]["finishReason"] = "error"
    elif cell == "ag-ui":
        wrong[-1]["outcome"] = {"type": "interrupt"}
    else:
        wrong[2]["id"] = "chatcmpl-2"
    assert "ids" in (check_run(cell, wrong, CHUNKS) or "")


def test_the_reader_joins_frames_split_across_reads() -> None:
    wire = b'data: {"type":"start"}\n\n: keep-alive\n\ndata: {"type":"a"}\r\n\r\ndata: [DONE]\n\n'
    reader = DataReader()
    got = [frame for n in range(0, len(wire), 7) for frame in reader.feed(wire[n : n + 7])]
    assert got + reader.close() == [{"type": "start"}, {"type": "a"}, DONE]
    assert reader.fields == 0
    reader = DataReader()
    assert reader.feed(b"event: x\ndata: 1\n\n") == [1] and reader.fields == 1


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
        "bytes_per_run": {"classic": 200_000, "openai": 50_000}.get(cell, 25_000),
        "server_cpu_us_per_event": cpu,
        "server_cpu_ms_per_run": round(cpu * per_run / 1000, 3),
        "ttft_ms_p50": ttft,
        "ttft_ms_p99": ttft * 2,
        "peak_rss_mb": 100.0,
    }


def _results() -> dict[str, Any]:
    figures = {cell: (25.0 * (n + 1), 20_000 / (n + 1), 2.0) for n, cell in enumerate(CELLS)}
    rounds = []
    for n in range(2):  # the second round 10 % slower: medians sit between them
        cells = [
            _cell(cell, c, cpu * (1 + n / 10), eps / (1 + n / 10), ttft * c * (1 + n / 10))
            for cell, (cpu, eps, ttft) in figures.items()
            for c in (1, 20)
        ]
        rounds.append({"round": n + 1, "order": {}, "cells": cells})
    rich = {
        "content": {"reasoning": 5, "text": 7, "all": 75},
        "classic_stream_mode": ["messages-tuple", "custom"],
        "protocol_channels": ["messages", "custom"],
        "cells": {
            cell: {"bytes": 1000 * (n + 1), "events": 20, "problem": None, "content_bytes": 75}
            | {"bytes_per_content_byte": round(1000 * (n + 1) / 75, 2)}
            for n, cell in enumerate(CELLS)
        },
    }
    results: dict[str, Any] = {
        "machine": {
            "date": "2025-01-02T03:04:05+00:00",
            "cpus": 2,
            "cpu": "Test CPU",
            "implementation": "CPython 3.12.0",
            "load_average_start": [0.5, 0.5, 0.5],
            "load_average_end": [1.25, 1.0, 0.5],
        },
        "versions": {"streamtap": "0.1.0", "streamtap_commit": "abc1234", "uvicorn": "9.9"},
        "config": {
            "cells": list(CELLS),
            "concurrency": [1, 20],
            "chunks": 200,
            "events_per_cell": 20_000,
            "rounds": 2,
            "runs_per_client": {"1": 99, "20": 5},
            "events_per_run": {cell: events_per_run(cell, 200) for cell in CELLS},
        },
        "rounds": rounds,
        "rich": rich,
        "notes": ["a note"],
        "failures": [],
    }
    summarize(results)
    return results


def test_summarize_takes_medians_and_the_ratios_to_classic() -> None:
    results = _results()
    med = results["medians"]
    assert set(med) == set(CELLS) and set(med["ai-sdk"]) == {"1", "20"}
    for key in MEDIAN_KEYS:
        assert key in med["ag-ui"]["20"]
    assert med["ai-sdk"]["1"]["server_cpu_us_per_event"] == pytest.approx(78.75)  # 75, 82.5
    ratios = results["ratios"]
    assert set(ratios) == {f"{cell}/classic" for cell in CELLS[1:]}
    assert ratios["openai/classic"]["1"]["server_cpu_us_per_event"] == pytest.approx(5.0)
    assert ratios["openai/classic"]["20"]["events_per_run"] == pytest.approx(1.0)
    assert ratios["ai-sdk/classic"]["1"]["bytes_per_run"] == pytest.approx(0.125)
    assert ratios["ag-ui/classic"]["1"]["events_per_run"] == pytest.approx(207 / 203, abs=1e-3)


def test_the_table_shows_every_cell_the_ratios_and_the_rich_answer() -> None:
    rendered = table(_results())
    for c in (1, 20):
        assert rendered.count(f"| {c} | `/runs/stream` (classic) | 203 | 200,000 |") == 1
        assert rendered.count(f"| {c} | Agent Streaming Protocol | 208 | 25,000 |") == 1
        assert rendered.count(f"| {c} | Vercel AI SDK `/ai-sdk/…/chat` | 207 |") == 1
        assert rendered.count(f"| {c} | AG-UI `/ag-ui/…` | 207 |") == 1
        assert rendered.count(f"| {c} | OpenAI `/v1/chat/completions` | 203 | 50,000 |") == 1
    assert "| 1 | OpenAI `/v1/chat/completions` | 5.00 | 5.00 | 1.00 | 0.25 |" in rendered
    assert "| Vercel AI SDK `/ai-sdk/…/chat` | 20 | 3,000 | 75 | 40.0 |" in rendered
    assert "75 bytes of content (reasoning 5, text 7)" in rendered
    assert "203 events on `/runs/stream` (classic)" in rendered and "*a note.*" in rendered


def test_the_docs_marker_renders_the_results_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hooks = _hooks(monkeypatch)
    assert hooks._TABLES["frontends"] is hooks._frontends
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    assert hooks._frontends({}) == ""  # no results file yet: nothing, and a warning
    results = _results()
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench/frontends_load.json").write_text(json.dumps(results), encoding="utf-8")
    rendered = hooks._frontends({})
    head, _, rest = rendered.partition("\n\n")
    assert head.startswith("Run of 2025-01-02 03:04 UTC: 2-CPU Test CPU, load average 0.50–1.25")
    assert "streamtap at abc1234" in head and "uvicorn 9.9" in head
    assert "runs per client 99 at C = 1, 5 at C = 20" in head
    assert rest == table(results)


def test_write_records_only_the_full_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        frontends_load.main(["--write", "--rounds", "1"])
    assert exit_.value.code == 2
    assert "--json PATH" in capsys.readouterr().err


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_a_tiny_run_of_every_route_through_server_load(tmp_path: Path) -> None:
    out = tmp_path / "frontends_load.json"
    cmd = [
        sys.executable, "-m", "bench.server_load", "--frontends", "--concurrency", "2",
        "--chunks", str(CHUNKS), "--events-per-cell", "24", "--rounds", "1", "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["failures"] == [] and results["config"]["cells"] == list(CELLS)
    [record] = results["rounds"]
    assert sorted(cell["cell"] for cell in record["cells"]) == sorted(CELLS)
    for cell in record["cells"]:  # 24 classic events / (2 clients x 6): 2 runs per client
        per_run = events_per_run(cell["cell"], CHUNKS)
        assert cell["failures"] == 0 and cell["runs"] == 4, cell
        assert cell["events"] == 4 * per_run and cell["events_per_run"] == per_run
        for key in ("server_cpu_us_per_event", "server_cpu_ms_per_run", "ttft_ms_p50"):
            assert _number(cell[key]), (cell["cell"], key)
        assert cell["bytes_per_run"] > 100
    rich = results["rich"]["cells"]
    assert set(rich) == set(CELLS) and all(r["problem"] is None for r in rich.values())
    assert rich["ai-sdk"]["events"] == 23 and rich["openai"]["content_bytes"] == 12
    assert set(results["ratios"]) == {f"{cell}/classic" for cell in CELLS[1:]}
    assert table(results) in done.stdout
