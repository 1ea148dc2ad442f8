"""The SDK-adapter group (`python -m bench --sdk-adapters-only`): a tiny run of every vendor
through the real SDKs, the results file and the docs marker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import sdk_adapters
from bench.cli import main
from tests.bench.test_cluster_load import _hooks  # the docs hooks with a stand-in mkdocs

ROOT = Path(__file__).resolve().parents[2]
TINY: dict[str, Any] = {"tokens": 12, "repeats": 1, "warmup": 0, "progress": lambda _: None}


def test_every_vendor_reads_the_whole_answer_on_both_sides() -> None:
    section = sdk_adapters.run(**TINY)
    assert list(section["vendors"]) == list(sdk_adapters.VENDORS)
    for vendor, row in section["vendors"].items():
        # streamtap: one chunk per token and the closing chunk
        assert row["streamtap_chunks"] == 12 + 1, vendor
        assert row["raw_events"] >= 12, vendor  # each SDK's own events, framing ones included
        assert row["raw_us_per_chunk"] > 0 and row["streamtap_us_per_chunk"] > 0
        assert row["ratio"] > 0
    assert section["versions"]["google-genai"] != "not installed"
    assert "| gemini | google-genai" in sdk_adapters.table(section)


def test_sdk_adapters_only_replaces_just_its_key_in_results_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = {"schema_version": 1, "openai": {"raw_sdk": {"us_per_chunk": 1.0}}}
    (tmp_path / "results.json").write_text(json.dumps(committed), encoding="utf-8")
    argv = [
        "--sdk-adapters-only", "--out-dir", str(tmp_path), "--warmup", "0", "--repeats", "1",
        "--tokens", "8", "--sdk-adapter-vendors", "gemini,bedrock",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "| bedrock |" in capsys.readouterr().out
    written = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in written.items() if k != "sdk_adapters"} == committed
    assert list(written["sdk_adapters"]["vendors"]) == ["gemini", "bedrock"]


def test_the_docs_marker_renders_the_results_file(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = _hooks(monkeypatch)
    assert hooks._TABLES["sdk_adapters"] is hooks._sdk_adapters
    assert hooks._sdk_adapters({}) == ""  # no section yet: nothing, and a warning
    section = {
        "machine": {
            "date": "2026-12-07T13:00:00+00:00",
            "cpus": 2,
            "cpu": "Test CPU",
            "implementation": "CPython 3.11.7",
            "load_average_start": [0.5, 0.5, 0.5],
            "load_average_end": [1.25, 1.0, 1.0],
        },
        "versions": {"python": "3.11.7", "google-genai": "3.6.1"},
        "tokens": 2000,
        "repeats": 7,
        "warmup": 1,
        "vendors": {
            "gemini": {
                "raw_us_per_chunk": 120.0,
                "streamtap_us_per_chunk": 15.0,
                "added_us_per_chunk": -105.0,
                "ratio": 0.125,
            }
        },
    }
    head, _, rest = hooks._sdk_adapters({"sdk_adapters": section}).partition("\n\n")
    assert head == (
        "Run of 2026-12-07 13:00 UTC: 2-CPU Test CPU, load average 0.50–1.25, "
        "CPython 3.11.7, google-genai 3.6.1."
    )
    assert rest == sdk_adapters.table(section)
    assert (
        "| gemini | google-genai `generate_content_stream`, in process | 120.00 | 15.00 | -105.00 | 0.12 |"
        in rest
    )
