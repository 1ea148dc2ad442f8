"""Where the per-chunk time goes: one scenario under a sampling profiler.

With ``py-spy`` installed (``pip install py-spy``) the scenario runs in a child
process sampled from outside, all threads included (a sync graph runs its node
in a worker thread), and the samples are summarized as µs per chunk by
function: self time (the function's own code) and inclusive time, counting only
the thread that holds the GIL. Without
py-spy, ``pyinstrument`` profiles in process (main thread and async tasks only).

    python -m bench --profile streamtap_model_stream --profile-vendor anthropic
    python -m bench.profile --loop streamtap_model_stream anthropic 2000 20   # the child
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.runner import Cell, settle
from bench.scenarios import by_name
from bench.transports import InProcess

__all__ = ["profile", "summarize"]

_MARK = "profiled_runs"
RATE = 1000  # samples per second


def _cell(scenario: str, vendor: str, tokens: int, runner: asyncio.Runner) -> tuple[Cell, Any]:
    specs = [s for s in by_name([scenario]) if s.name == scenario]
    cell = Cell(vendor, InProcess(), specs, tokens, runner)
    return cell, specs[0]


def profiled_runs(cell: Cell, spec: Any, runs: int) -> None:
    """The sampled region: ``summarize`` keeps only stacks through this frame."""
    for _ in range(runs):
        cell.run(spec, cell.tokens)


def _loop(scenario: str, vendor: str, tokens: int, runs: int) -> None:
    with asyncio.Runner() as runner:
        cell, spec = _cell(scenario, vendor, tokens, runner)
        # one-token warm-ups: imports and lazy set-up done, almost no worker-thread samples
        for _ in range(2):
            cell.run(spec, 1)
        settle()
        # the parent attaches py-spy now, so the set-up above is not sampled
        print("READY", flush=True)
        sys.stdin.readline()
        profiled_runs(cell, spec, runs)


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def summarize(raw: str, chunks: int, *, top: int = 25) -> str:
    """Collapsed stacks (py-spy ``--format raw --threads --gil``) -> µs per chunk by function.

    Only samples of the thread holding the GIL count, so the figures are
    Python execution time: a thread blocked on a queue costs nothing here.
    Main-thread samples count inside :func:`profiled_runs`; worker threads
    (sync graph nodes) count whole.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if frames[0].startswith("thread (") and not frames[0].endswith(": MainThread"):
            below = frames[1:]  # a worker thread (a sync node): only runs during the runs
        else:
            marks = [i for i, f in enumerate(frames) if f.startswith(_MARK + " ")]
            if not marks:
                continue
            below = frames[marks[0] + 1 :]
        count = int(count_text)
        total += count
        if below:
            own[_short(below[-1])] += count
        for frame in {_short(f) for f in below}:
            inclusive[frame] += count
    if not total:
        return "no samples in the profiled region (is py-spy allowed to ptrace?)"

    def us(count: int) -> float:
        return count / RATE * 1e6 / chunks

    lines = [
        f"{us(total):.2f} µs/chunk sampled ({total} samples at {RATE} Hz over {chunks} chunks)"
    ]
    lines += ["", "self time (µs/chunk)  function"]
    lines += [f"{us(c):10.2f}  {name}" for name, c in own.most_common(top)]
    lines += ["", "inclusive time (µs/chunk)  function"]
    lines += [f"{us(c):10.2f}  {name}" for name, c in inclusive.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rpartition(":")[0] or where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def _sample(spy: str, scenario: str, vendor: str, tokens: int, runs: int) -> str | None:
    """Start the child, attach py-spy once it is warm, let it run, return the stacks."""
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.profile", "--loop", scenario, vendor, str(tokens), str(runs)],
        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stacks.txt")
        try:
            if child.stdout.readline().strip() != "READY":
                print("profiled child did not start", file=sys.stderr)
                return None
            cmd = [
                spy, "record", "--pid", str(child.pid), "--rate", str(RATE), "--format", "raw",
                "--function", "--threads", "--gil", "--output", out,
            ]  # fmt: skip
            spying = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # py-spy attaches and starts sampling
            child.stdin.write("go\n")
            child.stdin.flush()
            child.wait(timeout=1800)
            _, err = spying.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdin.close()
            child.stdout.close()
        if not os.path.exists(out):
            print(err.decode(errors="replace")[-3000:], file=sys.stderr)
            return None
        return Path(out).read_text(encoding="utf-8")


def profile(scenario: str, vendor: str, args: argparse.Namespace) -> int:
    runs = args.profile_runs
    tokens = args.tokens
    spy = _py_spy()
    if spy is not None:
        raw = _sample(spy, scenario, vendor, tokens, runs)
        if raw is None:
            return 1
        print(f"{vendor} {scenario}, {runs} runs of {tokens} chunks, in process, py-spy --gil:")
        print(summarize(raw, runs * tokens))
        return 0
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("install py-spy or pyinstrument to profile", file=sys.stderr)
        return 1
    with asyncio.Runner() as runner:
        cell, spec = _cell(scenario, vendor, tokens, runner)
        cell.run(spec, tokens)
        settle()
        profiler = Profiler(interval=0.0002, async_mode="enabled")
        profiler.start()
        profiled_runs(cell, spec, runs)
        profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--loop", nargs=4, metavar=("SCENARIO", "VENDOR", "TOKENS", "RUNS"))
    args = parser.parse_args(argv)
    if args.loop is None:
        parser.error("use python -m bench --profile SCENARIO; --loop is the profiled child")
    scenario, vendor, tokens, runs = args.loop
    _loop(scenario, vendor, int(tokens), int(runs))


if __name__ == "__main__":
    main()
