"""Keeps ``python -m bench.server_memory`` working: a tiny run, checked for shape and bytes.

No timing or RSS figure is asserted (memory is the benchmark's job); only that every
scenario ran on both variants, that the bounded variant sent fewer bytes for the same
answer, and that a client resuming an abandoned run from its start gets 410 once its
first events fell out of the bounded log.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.server_memory import VARIANTS, Settings, measure, table

TINY = Settings(
    tokens=50, runs=3, chunks=20, chunk_bytes=1024, partial_bound=256, run_log_bytes=8192
)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return measure(TINY)


def test_every_scenario_ran_on_both_variants(results: dict[str, Any]) -> None:
    assert results["settings"]["tokens"] == 50
    for scenario in ("messages", "abandoned"):
        assert set(results[scenario]) == set(VARIANTS)
        for row in results[scenario].values():
            for key in ("rss_before_mb", "rss_after_mb", "rss_added_mb", "peak_mb", "seconds"):
                assert _number(row[key]), (scenario, key)
    rendered = table(results)
    assert rendered.count("| unbounded |") == 2 and rendered.count("| bounded |") == 2


def test_the_bounded_variant_sends_fewer_bytes_for_the_same_answer(
    results: dict[str, Any],
) -> None:
    platform, bounded = results["messages"]["unbounded"], results["messages"]["bounded"]
    assert platform["partial_events"] == 51  # one per chunk (the closing one too), as the Platform
    assert bounded["partial_events"] < platform["partial_events"]
    assert 0 < bounded["bytes_received"] < platform["bytes_received"]


def test_an_abandoned_runs_trimmed_start_answers_410(results: dict[str, Any]) -> None:
    assert results["abandoned"]["unbounded"]["resume_from_start_status"] == 200
    assert results["abandoned"]["bounded"]["resume_from_start_status"] == 410
    assert results["abandoned"]["bounded"]["bytes_streamed_per_run"] == 20 * 1024
