"""Many concurrent async streams through graph ``messages`` mode, over the loopback server.

Each (vendor, scenario) runs in a fresh child process, so its memory belongs
to that scenario alone. The child warms up, then for each level notes its RSS,
resets the kernel's peak-RSS mark, runs ``gather`` of N streams (each read to
the end; levels under ``MIN_STREAMS`` streams are repeated and the median
repeat is kept) and reads the peak (``VmHWM``). Per stream memory is
``(peak - RSS before) / N``; the raw SDK's own figure, measured the same way,
is what the graph's is compared with.

Rounds interleave the scenarios (a fresh random order each round) and the
figures are medians over rounds.

    python -m bench.concurrency --port P --vendor openai \
        --scenario streamtap_graph_messages_async --levels 1,100,1000 --tokens 100
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.machine import peak_rss_kb, reset_peak_rss, rss_kb
from bench.runner import settle
from bench.scenarios import Ctx, by_name
from bench.transports import Loopback

__all__ = ["SCENARIOS", "run"]

#: Scenarios measured under concurrency (all async).
SCENARIOS = ("raw_sdk_async", "streamtap_graph_messages_async", "langgraph_messages_async")

#: Levels below this many streams are repeated (sequentially) up to it; the
#: figure is the median repeat.
MIN_STREAMS = 50


async def _one(make: Callable[[], Any]) -> int:
    items = 0
    async for _ in await make():
        items += 1
    return items


async def _child(port: int, vendor: str, scenario: str, levels: list[int], tokens: int) -> Any:
    (spec,) = [s for s in by_name([scenario]) if s.name == scenario]
    if not spec.is_async:
        raise ValueError(f"{scenario} is not an async scenario")
    endpoint = Loopback(port, max_connections=max(levels) + 16)
    make = spec.build(Ctx(vendor, endpoint, tokens))
    for _ in range(3):
        await _one(make)
    settle()
    baseline = rss_kb()
    out = []
    if baseline <= 0:  # no /proc: no memory figures
        baseline = -1
    for n in levels:
        gc.collect()
        baseline = rss_kb() if baseline > 0 else baseline
        reset_peak_rss()
        walls, cpus = [], []
        # a small level is over in milliseconds: repeat it so the figure every
        # level is compared with is not one noisy sample
        for _ in range(max(1, MIN_STREAMS // n)):
            c0, t0 = time.process_time(), time.perf_counter()
            counts = await asyncio.gather(*(_one(make) for _ in range(n)))
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            if min(counts) < tokens:
                raise AssertionError(f"{scenario}: a stream ended after {min(counts)} items")
        peak = peak_rss_kb()
        chunks = n * tokens
        out.append(
            {
                "streams": n,
                "repeats": len(walls),
                "us_per_chunk": statistics.median(walls) * 1e6 / chunks,
                "cpu_us_per_chunk": statistics.median(cpus) * 1e6 / chunks,
                "baseline_rss_kb": baseline,
                "peak_rss_kb": peak,
                "rss_per_stream_kb": (peak - baseline) / n if baseline > 0 and peak else None,
            }
        )
    return {"levels": out}


_KEYS = ("us_per_chunk", "cpu_us_per_chunk", "rss_per_stream_kb")


def _median(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _spawn(
    port: int, vendor: str, scenario: str, levels: Sequence[int], tokens: int
) -> dict[str, Any]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [
        sys.executable,
        "-m",
        "bench.concurrency",
        "--port",
        str(port),
        "--vendor",
        vendor,
        "--scenario",
        scenario,
        "--levels",
        ",".join(map(str, levels)),
        "--tokens",
        str(tokens),
    ]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"concurrency child {vendor}/{scenario} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(
    port: int,
    *,
    vendors: Sequence[str],
    scenarios: Sequence[str],
    levels: Sequence[int],
    tokens: int,
    rounds: int,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Medians over ``rounds`` of every (vendor, scenario) at every level."""
    rng = random.Random(seed)
    cells = [(v, s) for v in vendors for s in scenarios]
    raw: dict[tuple[str, str], list[dict[str, Any]]] = {cell: [] for cell in cells}
    for index in range(rounds):
        rng.shuffle(cells)
        for vendor, scenario in cells:
            raw[vendor, scenario].append(_spawn(port, vendor, scenario, levels, tokens))
        if progress is not None:
            progress(f"concurrency round {index + 1}/{rounds}")
    out: dict[str, Any] = {"tokens_per_stream": tokens, "rounds": rounds, "levels": list(levels)}
    for vendor in vendors:
        per_vendor: dict[str, Any] = {}
        for scenario in scenarios:
            results = raw[vendor, scenario]
            per_level = []
            for i, n in enumerate(levels):
                rows = [r["levels"][i] for r in results]
                per_level.append(
                    {
                        "streams": n,
                        **{key: _median([row[key] for row in rows]) for key in _KEYS},
                        "baseline_rss_kb": _median([row["baseline_rss_kb"] for row in rows]),
                        "peak_rss_kb": _median([row["peak_rss_kb"] for row in rows]),
                    }
                )
            single = per_level[0]["us_per_chunk"]
            single_cpu = per_level[0]["cpu_us_per_chunk"]
            for row in per_level:
                row["ratio_to_single"] = row["us_per_chunk"] / single
                row["cpu_ratio_to_single"] = row["cpu_us_per_chunk"] / single_cpu
            per_vendor[scenario] = per_level
        if "raw_sdk_async" in per_vendor:
            for per_level in per_vendor.values():
                for row, base in zip(per_level, per_vendor["raw_sdk_async"], strict=True):
                    # how much worse than the SDK's own slowdown under the same load
                    row["ratio_to_single_over_sdk"] = (
                        row["ratio_to_single"] / base["ratio_to_single"]
                    )
                    mine, sdk = row["rss_per_stream_kb"], base["rss_per_stream_kb"]
                    row["rss_per_stream_kb_over_sdk"] = (
                        None if mine is None or sdk is None else mine - sdk
                    )
        out[vendor] = per_vendor
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vendor", required=True, choices=("openai", "anthropic"))
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--levels", required=True, help="comma-separated, ascending")
    parser.add_argument("--tokens", type=int, required=True)
    args = parser.parse_args(argv)
    levels = sorted(int(x) for x in args.levels.split(","))
    result = asyncio.run(_child(args.port, args.vendor, args.scenario, levels, args.tokens))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
