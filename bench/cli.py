"""``python -m bench``: every scenario, one table, results.json and the chart.

python -m bench                      # full run: bench/results.json, bench/overhead.png
python -m bench --quick --json PATH  # reduced run (< 1 min), same JSON schema
python -m bench --checkpoints-only   # checkpoint cost per step only, merged into results.json
python -m bench --sdk-adapters-only  # Gemini / Bedrock / Claude-on-Bedrock adapters vs raw SDKs only
python -m bench --profile streamtap_graph_messages_sync --vendor anthropic
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import checkpoints, concurrency, machine, report, sdk_adapters
from bench.runner import Cell, eprint, measure, measure_growth, validate
from bench.scenarios import REQUIRED, by_name
from bench.server import serve
from bench.streams import VENDORS, events, expected_text
from bench.transports import Endpoint, InProcess, Loopback

__all__ = ["main", "run"]

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 1
#: Above this one-minute load average per CPU the run is marked as taken on a busy machine.
BUSY_LOAD_PER_CPU = 0.75


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _levels(text: str) -> list[int]:
    if text.strip().lower() in ("", "none", "0"):
        return []
    return sorted(int(x) for x in _csv(text))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced run: shorter streams, fewer rounds, no 1,000-stream level",
    )
    p.add_argument("--json", type=Path, help="also write the results JSON here")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=HERE,
        help="full runs write results.json and overhead.png here (default: bench/)",
    )
    p.add_argument("--tokens", type=int, help="tokens per stream (default 2000; quick 100)")
    p.add_argument("--repeats", type=int, help="timed rounds (default 7; quick 3)")
    p.add_argument("--warmup", type=int, help="untimed rounds first (default 1)")
    p.add_argument("--vendors", default=",".join(VENDORS))
    p.add_argument(
        "--transports",
        default="inprocess,loopback",
        help="inprocess and/or loopback; the first one heads the JSON",
    )
    p.add_argument("--scenarios", help="comma-separated subset (raw SDK baselines always run)")
    p.add_argument("--per-piece", type=int, default=1, help="SSE events per transport read")
    p.add_argument("--concurrency", help="stream counts (default 1,100,1000; quick 1,10; none)")
    p.add_argument("--concurrency-tokens", type=int, help="tokens per stream (default 100)")
    p.add_argument("--concurrency-rounds", type=int, help="default 3; quick 1")
    p.add_argument(
        "--concurrency-scenarios",
        help=f"default {','.join(concurrency.SCENARIOS)}; quick: without LangGraph",
    )
    p.add_argument(
        "--one-token",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time one-token streams, for per-run setup (default: on; quick: off)",
    )
    p.add_argument(
        "--growth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time 4x longer streams in process: cost must stay flat "
        "(default: on; quick: off)",
    )
    p.add_argument(
        "--checkpoints",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time checkpoint cost per super-step, streamtap.graph vs LangGraph on "
        "each saver (default: on; quick: off)",
    )
    p.add_argument(
        "--checkpoints-only",
        action="store_true",
        help="only the checkpoint group; a full run merges it into results.json, "
        "leaving the other keys as they are",
    )
    p.add_argument(
        "--checkpoint-savers",
        default=",".join(checkpoints.SAVERS),
        help="memory, sqlite and/or postgres (a throw-away server; skipped when none)",
    )
    p.add_argument("--checkpoint-modes", default=",".join(checkpoints.MODES))
    p.add_argument(
        "--checkpoint-sqlite-dir",
        help="directory for the SQLite files (default: /dev/shm when a tmpfs, leaving out "
        "the disk's fsync latency; else the temporary directory)",
    )
    p.add_argument("--checkpoint-nodes", type=int, default=20, help="nodes in the linear graph")
    p.add_argument("--checkpoint-repeats", type=int, help="timed rounds (default 15; quick 3)")
    p.add_argument(
        "--checkpoint-runs", type=int, help="runs per graph per round (default 3; quick 1)"
    )
    p.add_argument(
        "--sdk-adapters",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the Gemini, Claude-on-Bedrock and Bedrock adapters next to their raw "
        "SDKs (default: on; quick: off)",
    )
    p.add_argument(
        "--sdk-adapters-only",
        action="store_true",
        help="only the SDK-adapter group; a full run merges it into results.json",
    )
    p.add_argument("--sdk-adapter-vendors", default=",".join(sdk_adapters.VENDORS))
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--seed", type=int, default=20250)
    p.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="profile one scenario with pyinstrument instead of benchmarking",
    )
    p.add_argument("--profile-vendor", default="openai")
    p.add_argument("--profile-runs", type=int, default=20)
    return p


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    quick = args.quick
    args.tokens = args.tokens or (100 if quick else 2000)
    args.repeats = args.repeats if args.repeats is not None else (3 if quick else 7)
    # quick: the untimed validation run is the only warm-up
    args.warmup = args.warmup if args.warmup is not None else (0 if quick else 1)
    if args.one_token is None:
        args.one_token = not quick
    if args.growth is None:
        args.growth = not quick
    if args.scenarios is None and quick:
        args.scenarios = ",".join(REQUIRED)
    if args.concurrency_scenarios is None:
        chosen = concurrency.SCENARIOS[:2] if quick else concurrency.SCENARIOS
        args.concurrency_scenarios = ",".join(chosen)
    if args.concurrency is None:
        args.concurrency = "1,10" if quick else "1,100,1000"
    args.concurrency_tokens = args.concurrency_tokens or (50 if quick else 100)
    args.concurrency_rounds = args.concurrency_rounds or (1 if quick else 3)
    if args.checkpoints is None:
        args.checkpoints = args.checkpoints_only or not quick
    args.checkpoint_repeats = args.checkpoint_repeats or (3 if quick else 15)
    args.checkpoint_runs = args.checkpoint_runs or (1 if quick else 3)
    if args.sdk_adapters is None:
        args.sdk_adapters = args.sdk_adapters_only or not quick
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark described by ``args``; returns the results document."""
    args = _defaults(args)
    vendors = _csv(args.vendors)
    for vendor in vendors:
        events(vendor, 1)  # validates the name
    transports = _csv(args.transports)
    unknown = [t for t in transports if t not in ("inprocess", "loopback")]
    if unknown or not transports:
        raise SystemExit(f"--transports takes inprocess and/or loopback, got {args.transports!r}")
    scenarios = by_name(_csv(args.scenarios) if args.scenarios else None)
    levels = _levels(args.concurrency)
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "quick": bool(args.quick),
        "machine": machine.machine(),
        "versions": machine.versions(),
        "config": {
            "tokens": args.tokens,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "transports": transports,
            "per_piece": args.per_piece,
            "scenarios": [s.name for s in scenarios],
            "one_token_runs": args.one_token,
            "growth_runs": args.growth,
            "checkpoint_runs": args.checkpoints,
            "seed": args.seed,
            "statistic": "median over interleaved rounds; added = median of same-round "
            "differences to the raw SDK (async scenarios: the async SDK)",
        },
    }
    eprint(_header(results))
    about = {s.name: s.about for s in scenarios}
    started = time.perf_counter()
    with ExitStack() as stack, asyncio.Runner() as aio:
        port: int | None = None
        if "loopback" in transports or levels:
            port = stack.enter_context(serve(per_piece=args.per_piece))
        per_vendor: dict[str, dict[str, dict[str, Any]]] = {v: {} for v in vendors}
        for vendor in vendors:
            for transport in transports:
                endpoint: Endpoint = (
                    InProcess(per_piece=args.per_piece)
                    if transport == "inprocess"
                    else Loopback(port or 0)
                )
                eprint(f"[{vendor}/{transport}] building {len(scenarios)} scenarios")
                cell = Cell(vendor, endpoint, scenarios, args.tokens, aio)
                expected = expected_text(args.tokens)
                for scenario in scenarios:
                    validate(cell, scenario, expected)
                measured = measure(
                    cell,
                    repeats=args.repeats,
                    warmup=args.warmup,
                    seed=args.seed,
                    one_token=args.one_token,
                    progress=functools.partial(_progress, f"[{vendor}/{transport}]"),
                )
                per_vendor[vendor][transport] = report.cell_summary(measured)
            results[vendor] = report.merge_transports(per_vendor[vendor], about)
            results.setdefault("targets", {})[vendor] = report.targets(results[vendor])
        if args.growth:
            results["growth"] = _growth(args, vendors, scenarios, aio)
        if levels:
            assert port is not None
            results["concurrency"] = concurrency.run(
                port,
                vendors=vendors,
                scenarios=_csv(args.concurrency_scenarios),
                levels=levels,
                tokens=args.concurrency_tokens,
                rounds=args.concurrency_rounds,
                seed=args.seed,
                progress=eprint,
            )
    if args.checkpoints:
        results["checkpoints"] = _checkpoints(args)
    if args.sdk_adapters:
        results["sdk_adapters"] = _sdk_adapters(args)
    results["machine"]["load_average_end"] = machine.load_average()
    results["machine"]["duration_s"] = round(time.perf_counter() - started, 1)
    results["machine"]["busy"] = _busy(results["machine"])
    if results["machine"]["busy"]:
        results["machine"]["note"] = (
            "load average was high during the run (other jobs on this machine): absolute "
            "times are inflated; compare scenarios through the paired differences and ratios"
        )
    return results


#: Scenarios whose per-chunk cost is checked for flatness against stream length.
GROWTH_SCENARIOS = (
    "raw_sdk",
    "streamtap_normalize",
    "streamtap_model_stream",
    "streamtap_model_astream",
    "streamtap_graph_messages_sync",
    "streamtap_graph_messages_async",
    "stream_tokens_graph",
)


def _growth(
    args: argparse.Namespace, vendors: list[str], scenarios: list[Any], aio: asyncio.Runner
) -> dict[str, Any]:
    chosen = [s for s in scenarios if s.name in GROWTH_SCENARIOS]
    long = args.tokens * 4
    out: dict[str, Any] = {"tokens": [args.tokens, long], "transport": "inprocess"}
    for vendor in vendors:
        eprint(f"[{vendor}/growth] {args.tokens} vs {long} tokens")
        cell = Cell(
            vendor,
            InProcess(per_piece=args.per_piece),
            chosen,
            args.tokens,
            aio,
            other_lengths=(long,),
        )
        measured = measure_growth(cell, long, repeats=max(3, args.repeats), seed=args.seed)
        out[vendor] = {
            name: report.growth_row(short, long_m) for name, (short, long_m) in measured.items()
        }
    return out


def _checkpoints(args: argparse.Namespace) -> dict[str, Any]:
    return checkpoints.run(
        savers=_csv(args.checkpoint_savers),
        modes=_csv(args.checkpoint_modes),
        nodes=args.checkpoint_nodes,
        repeats=args.checkpoint_repeats,
        warmup=args.warmup,
        runs_per_round=args.checkpoint_runs,
        seed=args.seed,
        sqlite_dir=args.checkpoint_sqlite_dir,
        progress=eprint,
    )


def _sdk_adapters(args: argparse.Namespace) -> dict[str, Any]:
    return sdk_adapters.run(
        vendors=tuple(_csv(args.sdk_adapter_vendors)),
        tokens=args.tokens,
        repeats=args.repeats,
        warmup=args.warmup,
        seed=args.seed,
        progress=eprint,
    )


def _checkpoints_only(args: argparse.Namespace) -> int:
    section = _checkpoints(_defaults(args))
    print(checkpoints.table(section))
    return _merge_group(args, "checkpoints", section)


def _sdk_adapters_only(args: argparse.Namespace) -> int:
    section = _sdk_adapters(_defaults(args))
    print(sdk_adapters.table(section))
    return _merge_group(args, "sdk_adapters", section)


def _merge_group(args: argparse.Namespace, key: str, section: dict[str, Any]) -> int:
    """One group run alone; without --quick, results.json gets only ``key`` anew.

    The other figures stay those of the run that made them, so regenerating this group
    never passes off old streaming numbers as new (or drops them).
    """
    if args.json is not None:
        doc = {"schema_version": SCHEMA_VERSION, "quick": bool(args.quick), key: section}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
        eprint(f"wrote {args.json}")
    if not args.quick:
        path = args.out_dir / "results.json"
        results: dict[str, Any] = (
            json.loads(path.read_text(encoding="utf-8"))
            if path.is_file()
            else {"schema_version": SCHEMA_VERSION}
        )
        results[key] = section
        args.out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
        eprint(f"wrote the {key} of {path}")
    return 0


def _progress(prefix: str, message: str) -> None:
    eprint(f"{prefix} {message}")


def _busy(info: dict[str, Any]) -> bool:
    cpus = info.get("cpus") or 1
    loads = [
        x for key in ("load_average_start", "load_average_end") for x in (info.get(key) or [])[:1]
    ]
    return any(load / cpus > BUSY_LOAD_PER_CPU for load in loads)


def _header(results: dict[str, Any]) -> str:
    m, v = results["machine"], results["versions"]
    return (
        f"streamtap bench {m['date']} on {m['cpu']} ({m['cpus']} CPUs), "
        f"load {m['load_average_start']}, {m['implementation']}\n"
        + "versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"\nconfig: {json.dumps(results['config'])}"
    )


def _write(results: dict[str, Any], args: argparse.Namespace) -> None:
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")
        eprint(f"wrote {args.json}")
    if not args.quick:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "results.json").write_text(text, encoding="utf-8")
        eprint(f"wrote {args.out_dir / 'results.json'}")
        if not args.no_chart:
            path = args.out_dir / "overhead.png"
            if report.chart(results, _csv(args.vendors), path):
                eprint(f"wrote {path}")
            else:
                eprint("matplotlib is not installed: no chart (pip install matplotlib)")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.profile:
        from bench.profile import profile

        return profile(args.profile, args.profile_vendor, _defaults(args))
    if args.checkpoints_only:
        return _checkpoints_only(args)
    if args.sdk_adapters_only:
        return _sdk_adapters_only(args)
    results = run(args)
    print(_header(results))
    print()
    print(report.table(results, _csv(args.vendors), _csv(args.transports)))
    if "checkpoints" in results:
        print()
        print(checkpoints.table(results["checkpoints"]))
    if "sdk_adapters" in results:
        print()
        print(sdk_adapters.table(results["sdk_adapters"]))
    _write(results, args)
    return 0
