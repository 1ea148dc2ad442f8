"""Timing: interleaved rounds, medians, and costs paired within a round.

The machine is shared and noisy, so absolute times drift by tens of percent
between minutes. Each round therefore runs every scenario once, in a fresh
random order, and a scenario's added cost is the median over rounds of its
difference to the raw SDK *in the same round*: slow stretches hit both sides
of a pair alike.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.scenarios import Ctx, Scenario, text_of
from bench.transports import Endpoint

__all__ = ["Cell", "Measured", "Run", "measure", "measure_growth", "settle", "validate"]

perf = time.perf_counter
cpu = time.process_time


@dataclass(frozen=True)
class Run:
    """One stream read end to end."""

    total_s: float
    first_s: float
    items: int
    #: CPU seconds of this process (all threads): robust to other processes' load.
    cpu_s: float


@dataclass
class Measured:
    """All timed runs of one scenario in one (vendor, transport) cell."""

    scenario: Scenario
    tokens: int
    runs: list[Run] = field(default_factory=list)
    one_token: list[Run] = field(default_factory=list)

    def us_per_chunk(self) -> list[float]:
        return [r.total_s * 1e6 / self.tokens for r in self.runs]

    def cpu_us_per_chunk(self) -> list[float]:
        return [r.cpu_s * 1e6 / self.tokens for r in self.runs]

    def first_token_ms(self) -> list[float]:
        return [r.first_s * 1e3 for r in self.runs]

    def run_1token_ms(self) -> list[float]:
        return [r.total_s * 1e3 for r in self.one_token]


def _time_sync(make: Callable[[], Iterable[Any]]) -> Run:
    c0 = cpu()
    t0 = perf()
    iterator = iter(make())
    first = 0.0
    items = 0
    for item in iterator:
        items += 1
        if text_of(item):
            first = perf()
            break
    for _ in iterator:
        items += 1
    end = perf()
    used = cpu() - c0
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
    return Run(end - t0, (first or end) - t0, items, used)


async def _time_async(make: Callable[[], Any]) -> Run:
    c0 = cpu()
    t0 = perf()
    source: AsyncIterable[Any] = await make()
    iterator = aiter(source)
    first = 0.0
    items = 0
    async for item in iterator:
        items += 1
        if text_of(item):
            first = perf()
            break
    async for _ in iterator:
        items += 1
    end = perf()
    used = cpu() - c0
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
    return Run(end - t0, (first or end) - t0, items, used)


class Cell:
    """The built scenarios of one (vendor, transport): each scenario's ``make`` per length."""

    def __init__(
        self,
        vendor: str,
        endpoint: Endpoint,
        scenarios: list[Scenario],
        tokens: int,
        runner: asyncio.Runner,
        *,
        other_lengths: tuple[int, ...] = (1,),
    ) -> None:
        self.vendor = vendor
        self.endpoint = endpoint
        self.scenarios = scenarios
        self.tokens = tokens
        self.runner = runner
        self.makes: dict[tuple[str, int], Any] = {}
        for scenario in scenarios:
            for n in (tokens, *other_lengths):
                self.makes[scenario.name, n] = scenario.build(Ctx(vendor, endpoint, n))

    def run(self, scenario: Scenario, tokens: int) -> Run:
        make = self.makes[scenario.name, tokens]
        gc.collect()
        if scenario.is_async:
            return self.runner.run(_time_async(make))
        return _time_sync(make)

    def collect(self, scenario: Scenario, tokens: int) -> list[Any]:
        """Every item of one run (untimed): what :func:`validate` checks."""
        make = self.makes[scenario.name, tokens]
        if scenario.is_async:

            async def gather() -> list[Any]:
                return [item async for item in await make()]

            return self.runner.run(gather())
        return list(make())


def settle() -> None:
    """Collect once, then freeze what survives (clients, graphs, imported modules).

    A full collection of the benchmark's heap takes a few hundred ms; frozen,
    the collection before each run only looks at objects made since.
    """
    gc.collect()
    gc.freeze()


def validate(cell: Cell, scenario: Scenario, expected_text: str) -> None:
    """Check once, untimed, that a scenario streams every token, one by one, in order."""
    items = cell.collect(scenario, cell.tokens)
    texts = [text_of(item) for item in items]
    streamed = [t for t in texts if t]
    if "".join(streamed) != expected_text or len(streamed) != cell.tokens:
        raise AssertionError(
            f"{cell.vendor}/{cell.endpoint.name}/{scenario.name}: expected {cell.tokens} text "
            f"items adding up to the stream, got {len(streamed)} ({''.join(streamed)[:60]!r}...)"
        )


def measure(
    cell: Cell,
    *,
    repeats: int,
    warmup: int,
    seed: int,
    one_token: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Measured]:
    """Warm up, then ``repeats`` interleaved rounds; every scenario once per round."""
    settle()
    rng = random.Random(seed)
    order = list(cell.scenarios)
    out = {s.name: Measured(s, cell.tokens) for s in order}
    for _ in range(warmup):
        for scenario in order:
            cell.run(scenario, cell.tokens)
            if one_token:
                cell.run(scenario, 1)
    for index in range(repeats):
        rng.shuffle(order)
        for scenario in order:
            run = cell.run(scenario, cell.tokens)
            if run.items < cell.tokens:
                raise AssertionError(f"{scenario.name}: only {run.items} items streamed")
            out[scenario.name].runs.append(run)
            if one_token:
                out[scenario.name].one_token.append(cell.run(scenario, 1))
        if progress is not None:
            progress(f"round {index + 1}/{repeats}")
    return out


def measure_growth(
    cell: Cell, long: int, *, repeats: int, seed: int
) -> dict[str, tuple[Measured, Measured]]:
    """Each scenario at ``cell.tokens`` and at ``long`` tokens, interleaved within rounds.

    A per-chunk cost that stays flat as the stream grows means no per-chunk step
    does work proportional to the length so far.
    """
    settle()
    rng = random.Random(seed)
    order = list(cell.scenarios)
    out = {s.name: (Measured(s, cell.tokens), Measured(s, long)) for s in order}
    for scenario in order:  # warm-up
        cell.run(scenario, long)
    for _ in range(repeats):
        rng.shuffle(order)
        for scenario in order:
            short_m, long_m = out[scenario.name]
            short_m.runs.append(cell.run(scenario, cell.tokens))
            long_m.runs.append(cell.run(scenario, long))
    return out


def paired_added(
    measured: dict[str, Measured], name: str, values: Callable[[Measured], list[float]]
) -> float:
    """Median over rounds of (scenario - its raw-SDK baseline) in the same round."""
    scenario = measured[name].scenario
    mine = values(measured[name])
    base = values(measured[scenario.baseline])
    return statistics.median(a - b for a, b in zip(mine, base, strict=True))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


_T0 = time.perf_counter()


def eprint(message: str) -> None:
    """Progress on stderr, stamped with seconds since start (stdout carries the table)."""
    print(f"[{time.perf_counter() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)
