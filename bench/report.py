"""Turning measurements into results.json, one printed table and the chart."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.runner import Measured, median, paired_added
from bench.scenarios import REQUIRED

__all__ = ["cell_summary", "chart", "growth_row", "merge_transports", "table", "targets"]


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, digits)


def cell_summary(measured: dict[str, Measured]) -> dict[str, dict[str, Any]]:
    """Per scenario: medians, costs paired with the raw SDK, and the ratio to LangGraph."""
    added = {name: paired_added(measured, name, Measured.us_per_chunk) for name in measured}
    cpu_added = {name: paired_added(measured, name, Measured.cpu_us_per_chunk) for name in measured}
    out: dict[str, dict[str, Any]] = {}
    for name, m in measured.items():
        s = m.scenario
        lg = added.get(s.langgraph)
        lg_cpu = cpu_added.get(s.langgraph)
        row: dict[str, Any] = {
            "us_per_chunk": _round(median(m.us_per_chunk())),
            "first_token_ms": _round(median(m.first_token_ms()), 3),
            "cpu_us_per_chunk": _round(median(m.cpu_us_per_chunk())),
            "added_us": _round(added[name]),
            "cpu_added_us": _round(cpu_added[name]),
            "ratio_to_langgraph": _round(added[name] / lg, 3) if lg and lg > 0 else None,
            "cpu_ratio_to_langgraph": (
                _round(cpu_added[name] / lg_cpu, 3) if lg_cpu and lg_cpu > 0 else None
            ),
            "baseline": s.baseline,
            "tokens": m.tokens,
            "runs": len(m.runs),
        }
        if m.one_token:
            row["run_1token_ms"] = _round(median(m.run_1token_ms()), 3)
            row["setup_added_ms"] = _round(paired_added(measured, name, Measured.run_1token_ms), 3)
        out[name] = row
    return out


def growth_row(short: Measured, long: Measured) -> dict[str, Any]:
    """Per-chunk cost at two stream lengths; ``growth`` near 1 means linear total cost."""
    a, b = median(short.us_per_chunk()), median(long.us_per_chunk())
    ca, cb = median(short.cpu_us_per_chunk()), median(long.cpu_us_per_chunk())
    return {
        "us_per_chunk": [_round(a), _round(b)],
        "cpu_us_per_chunk": [_round(ca), _round(cb)],
        "growth": _round(b / a, 3),
        "cpu_growth": _round(cb / ca, 3),
    }


def merge_transports(
    cells: Mapping[str, Mapping[str, dict[str, Any]]], about: Mapping[str, str]
) -> dict[str, Any]:
    """One vendor's section: the first transport's figures at the top, every transport below."""
    transports = list(cells)
    primary = cells[transports[0]]
    out: dict[str, Any] = {}
    for name, row in primary.items():
        out[name] = {
            **row,
            "transport": transports[0],
            "about": about[name],
            "by_transport": {t: cells[t][name] for t in transports if name in cells[t]},
        }
    return out


def targets(vendor_section: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's targets checked on this run's figures (informative, not a test)."""

    def check(value: float | None, limit: float) -> dict[str, Any]:
        return {"value": value, "limit": limit, "met": value is not None and value <= limit}

    def added(name: str) -> float | None:
        row = vendor_section.get(name)
        return None if row is None else row["added_us"]

    def ratio(name: str) -> float | None:
        row = vendor_section.get(name)
        return None if row is None else row["ratio_to_langgraph"]

    out: dict[str, Any] = {
        "model_stream_added_us": check(added("streamtap_model_stream"), 5.0),
        "model_astream_added_us": check(added("streamtap_model_astream"), 5.0),
    }
    for mode in ("sync", "async"):
        name = f"streamtap_graph_messages_{mode}"
        out[f"graph_{mode}_added_us"] = check(added(name), 15.0)
        out[f"graph_{mode}_ratio_to_langgraph"] = check(ratio(name), 0.2)
        # what the graph adds around the same model: first token, and a whole
        # one-token run (the per-run setup)
        model = "streamtap_model_stream" if mode == "sync" else "streamtap_model_astream"
        for key, field in (("first_token", "first_token_ms"), ("setup", "run_1token_ms")):
            out[f"graph_{mode}_{key}_added_ms"] = check(
                _difference(vendor_section, name, model, field), 1.0
            )
    return out


def _difference(section: Mapping[str, Any], name: str, other: str, field: str) -> float | None:
    """``section[name][field] - section[other][field]``, None when either is missing."""
    a = section.get(name, {}).get(field)
    b = section.get(other, {}).get(field)
    return None if a is None or b is None else _round(a - b, 3)


# --------------------------------------------------------------------------- printing


def _fmt(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def table(results: Mapping[str, Any], vendors: list[str], transports: list[str]) -> str:
    """The one table: every vendor x transport x scenario."""
    head = (
        f"{'vendor':9} {'transport':9} {'scenario':36} {'µs/chunk':>9} {'cpu µs':>8} "
        f"{'added µs':>9} {'vs LangGraph':>12} {'first ms':>9} {'1-token ms':>10}"
    )
    lines = [head, "-" * len(head)]
    for vendor in vendors:
        for transport in transports:
            for name, row in results[vendor].items():
                cell = row["by_transport"].get(transport)
                if cell is None:
                    continue
                mark = "" if name in REQUIRED else " *"
                lines.append(
                    f"{vendor:9} {transport:9} {name + mark:36} {_fmt(cell['us_per_chunk']):>9} "
                    f"{_fmt(cell['cpu_us_per_chunk']):>8} {_fmt(cell['added_us'], '+.1f'):>9} "
                    f"{_fmt(cell['ratio_to_langgraph'], '.2f'):>12} "
                    f"{_fmt(cell['first_token_ms'], '.2f'):>9} "
                    f"{_fmt(cell.get('run_1token_ms'), '.2f'):>10}"
                )
            lines.append("")
    lines.append(
        "added µs: median over rounds of (scenario − raw SDK) paired within a round; async "
        "scenarios against the async SDK. vs LangGraph: added / LangGraph's added (same mode). "
        "* = extra scenario."
    )
    growth = results.get("growth")
    if growth:
        lines += ["", _growth_table(growth, vendors)]
    conc = results.get("concurrency")
    if conc:
        lines += ["", _concurrency_table(conc)]
    return "\n".join(lines)


def _growth_table(growth: Mapping[str, Any], vendors: list[str]) -> str:
    short, long = growth["tokens"]
    head = (
        f"{'vendor':9} {'scenario':36} {f'µs @{short}':>10} {f'µs @{long}':>10} "
        f"{'growth':>7} {'cpu growth':>10}"
    )
    lines = [
        f"stream length x4, {growth['transport']}: per-chunk cost should stay flat (growth ≈ 1)",
        head,
        "-" * len(head),
    ]
    for vendor in vendors:
        for name, row in (growth.get(vendor) or {}).items():
            a, b = row["us_per_chunk"]
            lines.append(
                f"{vendor:9} {name:36} {_fmt(a):>10} {_fmt(b):>10} "
                f"{_fmt(row['growth'], '.2f'):>7} {_fmt(row['cpu_growth'], '.2f'):>10}"
            )
    return "\n".join(lines)


def _concurrency_table(conc: Mapping[str, Any]) -> str:
    head = (
        f"{'vendor':9} {'scenario':32} {'streams':>7} {'µs/chunk':>9} {'cpu µs':>8} "
        f"{'× single':>8} {'÷ SDK ×':>8} {'KB/stream':>10} {'KB over SDK':>11}"
    )
    lines = [
        f"concurrency over loopback: {conc['tokens_per_stream']} tokens per stream, "
        f"median of {conc['rounds']} rounds",
        head,
        "-" * len(head),
    ]
    for vendor, per_vendor in conc.items():
        if not isinstance(per_vendor, dict):
            continue
        for scenario, rows in per_vendor.items():
            for row in rows:
                lines.append(
                    f"{vendor:9} {scenario:32} {row['streams']:>7} "
                    f"{_fmt(row['us_per_chunk']):>9} {_fmt(row['cpu_us_per_chunk']):>8} "
                    f"{_fmt(row['ratio_to_single'], '.2f'):>8} "
                    f"{_fmt(row.get('ratio_to_single_over_sdk'), '.2f'):>8} "
                    f"{_fmt(row['rss_per_stream_kb']):>10} "
                    f"{_fmt(row.get('rss_per_stream_kb_over_sdk')):>11}"
                )
    return "\n".join(lines)


# --------------------------------------------------------------------------- chart

_COLORS = {"streamtap": "#1b9e77", "langgraph": "#d95f02", "langchain": "#7570b3", "raw": "#999999"}


def _color(name: str) -> str:
    if name.startswith("langgraph_streamtap"):
        return "#66a61e"
    if name.startswith(("streamtap", "stream_tokens")):
        return _COLORS["streamtap"]
    if name.startswith("langgraph"):
        return _COLORS["langgraph"]
    if name.startswith("langchain"):
        return _COLORS["langchain"]
    return _COLORS["raw"]


def chart(results: Mapping[str, Any], vendors: list[str], path: Path) -> bool:
    """``overhead.png``: added µs/chunk per scenario and vendor; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    conc = results.get("concurrency") or {}
    panels = len(vendors) + (1 if conc else 0)
    fig, axes = plt.subplots(1, panels, figsize=(7.5 * panels, 8), squeeze=False)
    transport = next(iter(results[vendors[0]].values()))["transport"]
    for ax, vendor in zip(axes[0], vendors, strict=False):
        rows = [
            (name, row["added_us"], row["cpu_added_us"])
            for name, row in results[vendor].items()
            if not name.startswith("raw_sdk") and row["added_us"] is not None
        ]
        raw = results[vendor]["raw_sdk"]
        names = [r[0] for r in rows]
        ys = list(range(len(rows)))
        colors = [_color(n) for n in names]
        ax.barh(
            [y - 0.2 for y in ys],
            [r[1] for r in rows],
            height=0.4,
            color=colors,
            label="wall clock",
        )
        ax.barh(
            [y + 0.2 for y in ys],
            [r[2] or 0.0 for r in rows],
            height=0.4,
            color=colors,
            alpha=0.45,
            hatch="//",
            label="CPU time",
        )
        ax.set_yticks(ys, names)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.invert_yaxis()
        ax.set_title(
            f"{vendor}: µs per chunk added over the raw SDK ({transport})\n"
            f"raw SDK: {raw['us_per_chunk']} µs/chunk wall, {raw['cpu_us_per_chunk']} CPU; "
            "async rows vs the async SDK"
        )
        ax.set_xlabel(
            "added µs per chunk (lower is better; < 0: faster than the SDK's typed events)"
        )
        for y, (_, value, _) in zip(ys, rows, strict=True):
            ax.annotate(
                f"{value:+.1f}",
                (value, y - 0.2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.legend(fontsize=7, loc="lower right")
    if conc:
        ax = axes[0][-1]
        for vendor in vendors:
            for scenario, per_level in (conc.get(vendor) or {}).items():
                xs = [row["streams"] for row in per_level]
                ys = [row["us_per_chunk"] for row in per_level]
                ax.plot(
                    xs,
                    ys,
                    marker="o",
                    color=_color(scenario),
                    linestyle="-" if vendor == "openai" else "--",
                    label=f"{vendor} {scenario}",
                )
        ax.set_xscale("log")
        ax.set_xticks(conc["levels"], [str(n) for n in conc["levels"]])
        ax.minorticks_off()
        ax.set_xlabel("concurrent async streams (loopback)")
        ax.set_ylabel("µs per chunk (wall, all streams)")
        ax.set_title(f"concurrency, {conc['tokens_per_stream']} tokens per stream")
        ax.legend(fontsize=7)
    machine = results.get("machine", {})
    fig.suptitle(
        f"streamtap benchmark — {machine.get('date', '')} — {machine.get('cpu', '')}, "
        f"{machine.get('cpus', '?')} CPUs, load {machine.get('load_average_start')}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
