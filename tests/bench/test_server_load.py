"""Keeps ``python -m bench.server_load`` working: a tiny run, checked for shape only.

No timing, CPU or RSS figure is asserted (that is the benchmark's job); only that the
entry point ran the floor and streamtap in every cell with every token verified, wrote
the documented JSON and renders the table, that an SSE event split across network
reads is read whole, and that ``--against langgraph-dev`` without langgraph-api fails
with the install hint. The ``langgraph dev`` smoke run (a few seconds: its queue polls
every 0.5 s) only runs with ``STREAMTAP_BENCH_LANGGRAPH=1``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bench.server_load as server_load
from bench.server_load import MEDIAN_KEYS, SSEReader, table

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = 5


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _run(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp / "server_load.json"
    cmd = [
        sys.executable, "-m", "bench.server_load", "--concurrency", "2", "--chunks", str(CHUNKS),
        "--events-per-cell", "48", "--rounds", "1", "--json", str(out), *args,
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text(encoding="utf-8"))


def _events_per_run(results: dict[str, Any]) -> dict[str, int]:
    per_run: dict[str, int] = results["config"]["events_per_run"]
    return {t: per_run[t] for t in results["config"]["targets"]}


def _check_shape(results: dict[str, Any], targets: list[str]) -> None:
    config = results["config"]
    assert config["targets"] == targets and config["concurrency"] == [2]
    assert config["runs_per_client"] == {"2": 3}  # 48 events / (2 clients x 8 per run)
    assert results["failures"] == []
    for key in ("python", "streamtap", "langchain-core", "uvicorn", "sse-starlette", "orjson"):
        assert key in results["versions"]
    assert results["machine"]["cpus"]
    [record] = results["rounds"]
    assert sorted(record["order"]["2"]) == sorted(targets)
    assert sorted(cell["target"] for cell in record["cells"]) == sorted(targets)
    for cell in record["cells"]:
        per_run = config["events_per_run"][cell["target"]]
        assert cell["failures"] == 0 and cell["runs"] == 2 * 3
        assert cell["events"] == 2 * 3 * per_run
        for key in MEDIAN_KEYS:
            if key.startswith("latency_") and config["model"] == "fake":
                assert cell[key] is None  # the fake's chunks carry no time stamp
                continue
            assert _number(cell[key]), (cell["target"], key)
    for target in targets:
        assert results["medians"][target]["2"]["rounds"] == 1
    assert set(results["ratios"]) == {f"streamtap/{t}" for t in targets if t != "streamtap"}
    assert [c["limit"] for c in results["checks"]] == [1.3, 2.0]
    assert set(results["final_rss_mb"]) == set(targets)


def test_floor_and_streamtap_through_the_entry_point(tmp_path: Path) -> None:
    done, results = _run(tmp_path, "--targets", "floor,streamtap")
    _check_shape(results, ["floor", "streamtap"])
    assert _events_per_run(results) == {"floor": CHUNKS + 3, "streamtap": CHUNKS + 3}
    rendered = table(results)
    assert rendered.count("| 2 | floor |") == 1 and rendered.count("| 2 | streamtap |") == 1
    assert "streamtap / floor server CPU per event, C = 2" in rendered
    assert "not measured" in rendered  # no langgraph dev in this run
    assert rendered in done.stdout


@pytest.mark.skipif(
    os.environ.get("STREAMTAP_BENCH_LANGGRAPH") != "1",
    reason="langgraph dev smoke run: set STREAMTAP_BENCH_LANGGRAPH=1 (about 8 s)",
)
def test_langgraph_dev_through_the_entry_point(tmp_path: Path) -> None:
    pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] is not installed")
    _, results = _run(tmp_path, "--targets", "streamtap,floor", "--against", "langgraph-dev")
    _check_shape(results, ["streamtap", "floor", "langgraph-dev"])
    assert _events_per_run(results)["langgraph-dev"] == CHUNKS + 2  # no `end` event
    assert "| 2 | `langgraph dev` |" in table(results)


def test_against_langgraph_dev_without_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(server_load, "langgraph_dev_available", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        server_load.main(["--against", "langgraph-dev"])
    assert exit_.value.code == 2
    assert "pip install 'streamtap[bench]'" in capsys.readouterr().err


def test_write_records_only_the_full_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        server_load.main(["--write", "--rounds", "1", "--targets", "streamtap,floor"])
    assert exit_.value.code == 2
    assert "--json PATH" in capsys.readouterr().err


def _frame(n: int) -> bytes:
    data = json.dumps([{"content": f"c{n} ", "t": "é" * 40}, {"run_id": "r"}])
    return f"id: {n}\nevent: messages\ndata: {data}\n\n".encode()


def test_an_event_split_across_reads_is_read_whole() -> None:
    stream = b": heartbeat\n\n" + b"".join(_frame(n) for n in range(1, 4))
    whole = [(str(n), "messages", json.loads(_frame(n).split(b"data: ")[1])) for n in (1, 2, 3)]
    for size in (1, 2, 3, 7, 50, len(stream)):
        reader = SSEReader()
        got = []
        for at in range(0, len(stream), size):
            got += reader.feed(stream[at : at + size])
        got += reader.close()
        assert got == whole, size
    crlf = SSEReader()  # langgraph dev ends its lines with \r\n, and sends no ids
    parts = crlf.feed(b'event: metadata\r\ndata: {"a": 1}\r')
    parts += crlf.feed(b"\n\r\n")
    assert parts == [(None, "metadata", {"a": 1})]
