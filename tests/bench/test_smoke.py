"""Keeps ``python -m bench`` working: a tiny run of every scenario, checked for shape only.

Nothing here looks at speed (that is the benchmark's job, not a test's): the run
must finish, every scenario must have streamed (the harness itself checks each
one delivers every token, in order, one item per token), and the JSON must
have the documented schema.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.profile import summarize
from bench.scenarios import REQUIRED, SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
VENDORS = ("openai", "anthropic")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    cmd = [
        sys.executable, "-m", "bench", "--quick", "--json", str(out),
        "--scenarios", ",".join(s.name for s in SCENARIOS),
        "--tokens", "3", "--repeats", "1", "--one-token", "--growth",
        "--concurrency", "1,2", "--concurrency-tokens", "2",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "raw_sdk" in done.stdout  # the table went to stdout
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_every_required_scenario_has_medians(results: dict[str, Any]) -> None:
    for vendor in VENDORS:
        section = results[vendor]
        assert set(REQUIRED) <= set(section)
        for name in REQUIRED:
            row = section[name]
            assert _number(row["us_per_chunk"]) and row["us_per_chunk"] > 0, (vendor, name)
            assert _number(row["first_token_ms"]) and row["first_token_ms"] > 0, (vendor, name)


def test_every_scenario_ran_on_both_transports(results: dict[str, Any]) -> None:
    for vendor in VENDORS:
        assert set(results[vendor]) == {s.name for s in SCENARIOS}
        for name, row in results[vendor].items():
            assert row["transport"] == "inprocess"
            assert set(row["by_transport"]) == {"inprocess", "loopback"}, (vendor, name)
            for cell in row["by_transport"].values():
                assert cell["runs"] == 1
                assert _number(cell["added_us"]) and _number(cell["cpu_us_per_chunk"])
                assert _number(cell["run_1token_ms"]) and _number(cell["setup_added_ms"])
        for name in ("raw_sdk", "raw_sdk_async"):
            assert results[vendor][name]["added_us"] == 0


def test_ratios_name_langgraph_of_the_same_mode(results: dict[str, Any]) -> None:
    for vendor in VENDORS:
        section = results[vendor]
        for name in ("langgraph_messages_sync", "langgraph_messages_async"):
            ratio = section[name]["ratio_to_langgraph"]
            assert ratio is None or ratio == 1.0  # None only when LangGraph added nothing
        assert set(results["targets"][vendor]) == {
            "model_stream_added_us",
            "model_astream_added_us",
            "graph_sync_added_us",
            "graph_sync_ratio_to_langgraph",
            "graph_async_added_us",
            "graph_async_ratio_to_langgraph",
            "graph_sync_first_token_added_ms",
            "graph_sync_setup_added_ms",
            "graph_async_first_token_added_ms",
            "graph_async_setup_added_ms",
        }
        targets = results["targets"][vendor]
        graph, model = section["streamtap_graph_messages_sync"], section["streamtap_model_stream"]
        assert targets["graph_sync_setup_added_ms"]["value"] == pytest.approx(
            graph["run_1token_ms"] - model["run_1token_ms"], abs=1e-3
        )
        assert targets["graph_sync_setup_added_ms"]["limit"] == 1.0


def test_machine_versions_and_config(results: dict[str, Any]) -> None:
    machine = results["machine"]
    for key in ("date", "platform", "cpu", "cpus", "load_average_start", "load_average_end"):
        assert key in machine
    assert isinstance(machine["busy"], bool)
    versions = results["versions"]
    for package in ("python", "streamtap", "openai", "anthropic", "langchain-core", "langgraph"):
        assert versions[package]
    assert results["quick"] is True
    assert results["config"]["tokens"] == 3


def test_concurrency_levels(results: dict[str, Any]) -> None:
    conc = results["concurrency"]
    assert conc["levels"] == [1, 2]
    for vendor in VENDORS:
        for scenario in ("raw_sdk_async", "streamtap_graph_messages_async"):
            rows = conc[vendor][scenario]
            assert [row["streams"] for row in rows] == [1, 2]
            for row in rows:
                assert _number(row["us_per_chunk"]) and _number(row["ratio_to_single"])
                assert "rss_per_stream_kb" in row and "rss_per_stream_kb_over_sdk" in row


def test_growth_section(results: dict[str, Any]) -> None:
    growth = results["growth"]
    assert growth["tokens"] == [3, 12]
    for vendor in VENDORS:
        assert {"raw_sdk", "streamtap_model_stream", "streamtap_graph_messages_async"} <= set(
            growth[vendor]
        )
        for row in growth[vendor].values():
            assert _number(row["growth"]) and len(row["us_per_chunk"]) == 2


def test_profile_summary_counts_the_profiled_region_and_worker_threads() -> None:
    raw = "\n".join(
        [
            "thread (1): MainThread;main (x.py);setup (x.py) 500",
            "thread (1): MainThread;main (x.py);profiled_runs (bench/profile.py);"
            "feed (/s/site-packages/streamtap/providers/_run.py:12) 30",
            "thread (2): streamtap-graph_0;run (threading.py);node (n.py) 10",
        ]
    )
    text = summarize(raw, chunks=10)
    lines = text.splitlines()
    assert lines[0].startswith("4000.00 µs/chunk sampled (40 samples")
    assert "3000.00  feed (streamtap/providers/_run.py)" in text
    assert "1000.00  node (n.py)" in text
    assert "setup" not in text


def test_loopback_clients_keep_alive_as_many_connections_as_the_sdks_do() -> None:
    import anthropic._constants
    import openai._constants

    from bench.transports import SDK_KEEPALIVE, Loopback

    for sdk in (openai._constants, anthropic._constants):
        assert sdk.DEFAULT_CONNECTION_LIMITS.max_keepalive_connections == SDK_KEEPALIVE
    client = Loopback(1, max_connections=1016).http_async_client()
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert (pool._max_connections, pool._max_keepalive_connections) == (1016, SDK_KEEPALIVE)
