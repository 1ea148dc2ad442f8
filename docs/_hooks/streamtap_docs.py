"""MkDocs hooks for the streamtap docs (mkdocs.yml `hooks:`), run on every build.

* Benchmark figures are never typed into the docs: `<!-- bench: NAME -->` markers in a page are
  replaced by tables generated from `bench/results.json` (the file `make bench` writes).
* LangGraph conformance figures likewise: `<!-- conformance: summary -->` and
  `<!-- conformance: reasons -->` come from `conformance/expected_failures.toml` (its
  `[summary]` is written by `make conformance ARGS=--update`), and `<!-- porting: names -->`
  (LangGraph's public names, offered or not) from `conformance/public_names.json`.
* `bench/results.json` and `bench/overhead.png` are published with the site, so a page links
  them as `../bench/results.json` (which also works when the Markdown is read on GitHub) and the
  link is rewritten to the published copy.
* README.md's relative links are checked like the docs' own links (into `docs/`: the page and
  its `#anchor`; elsewhere: the path): a broken one is a warning, which fails
  `mkdocs build --strict` (and so `make test`).
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.streamtap_docs")

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ("bench/results.json", "bench/overhead.png")
_MARKER = re.compile(r"<!--\s*bench:\s*([a-z_-]+)\s*-->")
_CONFORMANCE = re.compile(r"<!--\s*conformance:\s*(summary|reasons)\s*-->")
_PORTING = re.compile(r"<!--\s*porting:\s*names\s*-->")
_README_LINK = re.compile(r"\]\(([^)#\s:]+)(?:#([^)\s]+))?\)")

_anchors: dict[str, set[str]] = {}


# --------------------------------------------------------------------------- events


def on_files(files: Files, *, config: Any) -> Files:
    for rel in PUBLISHED:
        path = ROOT / rel
        if not path.is_file():
            log.warning("%s is missing: the performance page links it", rel)
            continue
        files.append(File.generated(config, rel, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Files) -> str:
    for rel in PUBLISHED:
        markdown = markdown.replace(f"](../{rel})", f"]({rel})")
    if _MARKER.search(markdown):
        results = json.loads((ROOT / "bench/results.json").read_text(encoding="utf-8"))

        def table(match: re.Match[str]) -> str:
            render = _TABLES.get(match.group(1))
            if render is None:
                log.warning("%s: unknown marker %r", page.file.src_uri, match.group(0))
                return match.group(0)
            return render(results)

        markdown = _MARKER.sub(table, markdown)
    if _CONFORMANCE.search(markdown):
        data = tomllib.loads((ROOT / "conformance/expected_failures.toml").read_text("utf-8"))
        markdown = _CONFORMANCE.sub(lambda m: _conformance(data, m.group(1)), markdown)
    if _PORTING.search(markdown):
        names = json.loads((ROOT / "conformance/public_names.json").read_text("utf-8"))
        markdown = _PORTING.sub(lambda m: _porting(names), markdown)
    return markdown


def _porting(data: dict[str, Any]) -> str:
    """LangGraph's public names by module: those streamtap.graph offers, and those it lacks."""
    rows = ["| LangGraph | offered | not offered |", "|---|---|---|"]

    def cell(names: list[str]) -> str:
        return ", ".join(f"`{n}`" for n in names) or "–"

    for module, names in data["modules"].items():
        have = [n for n, where in names.items() if where]
        lack = [n for n, where in names.items() if not where]
        rows.append(f"| `{module}` ({len(have)}/{len(names)}) | {cell(have)} | {cell(lack)} |")
    for cls, members in data["classes"].items():
        have = [n for n, ok in members.items() if ok]
        lack = [n for n, ok in members.items() if not ok]
        rows.append(
            f"| `{cls}` members ({len(have)}/{len(members)}) | {cell(have)} | {cell(lack)} |"
        )
    return "\n".join(rows)


def _conformance(data: dict[str, Any], part: str) -> str:
    """The conformance run the expectation file records: a summary line, or reasons by count."""
    failures = data.get("failures", {})
    if part == "reasons":
        counts = Counter({reason: len(tests) for reason, tests in failures.items()})
        rows = [f"| {reason} | {n} |" for reason, n in counts.most_common()]
        return "\n".join(["| reason | tests |", "|---|---:|", *rows])
    s = data.get("summary")
    if not s:
        log.warning("conformance/expected_failures.toml has no [summary]: run --update")
        return ""
    share = 100 * s["passed"] / s["in_scope"] if s["in_scope"] else 0
    pg = "with" if s.get("postgres") else "without"
    return (
        f"Against LangGraph {data.get('langgraph')}, {pg} the Postgres parameters: "
        f"**{s['in_scope']} tests** in scope once parametrized; **{s['passed']} pass** "
        f"({share:.0f} %), {s['skipped']} are skipped, {s['failed']} are expected failures."
    )


def on_page_content(html: str, *, page: Any, config: Any, files: Files) -> str:
    _anchors[page.file.src_uri] = set(_toc_ids(page.toc))
    return html


def on_post_build(*, config: Any) -> None:
    readme = ROOT / "README.md"
    for n, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), 1):
        for target, anchor in _README_LINK.findall(line):
            if not target.startswith("docs/"):
                if not (ROOT / target).exists():
                    log.warning("README.md:%d links %s, which does not exist", n, target)
                continue
            src_uri = target.removeprefix("docs/")
            if src_uri not in _anchors:
                log.warning("README.md:%d links %s, which is not a docs page", n, target)
            elif anchor and anchor not in _anchors[src_uri]:
                log.warning("README.md:%d links %s#%s: no such heading", n, target, anchor)


def _toc_ids(items: Iterable[Any]) -> Iterable[str]:
    for item in items:
        yield item.id
        yield from _toc_ids(item.children)


# --------------------------------------------------------------------------- tables

VENDORS = ("openai", "anthropic")
TITLE = {"openai": "OpenAI", "anthropic": "Anthropic"}


def _f(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def _run(results: dict[str, Any]) -> str:
    m, v, c = results["machine"], results["versions"], results["config"]
    libs = ", ".join(
        f"{name} {v[name]}"
        for name in (
            "openai",
            "anthropic",
            "langchain-core",
            "langchain-openai",
            "langchain-anthropic",
            "langgraph",
        )
        if name in v
    )
    loads = m["load_average_start"] + m["load_average_end"]
    load = f"{min(loads):.2f}–{max(loads):.2f}"
    quick = " (a `--quick` run)" if results.get("quick") else ""
    busy = " The machine was busy (load average above 0.75 per CPU)." if m.get("busy") else ""
    return (
        f"Run of {m['date'][:16].replace('T', ' ')} UTC{quick}: {m['cpus']}-CPU {m['cpu']}, "
        f"load average {load}, {m['implementation']}, {libs}; {c['tokens']:,} tokens per "
        f"stream, {c['warmup']} warm-up and {c['repeats']} timed rounds.{busy}"
    )


def _scenarios(transport: str) -> Callable[[dict[str, Any]], str]:
    def render(results: dict[str, Any]) -> str:
        out = []
        for vendor in VENDORS:
            out += [
                f"**{TITLE[vendor]}**",
                "",
                "| scenario | µs/chunk | added | vs LangGraph | first token ms | CPU µs/chunk |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for name, top in results[vendor].items():
                row = top["by_transport"].get(transport)
                if row is None:
                    continue
                ratio = "—" if name.startswith("raw_sdk") else _f(row["ratio_to_langgraph"], ".2f")
                out.append(
                    f"| `{name}` | {_f(row['us_per_chunk'])} | {_f(row['added_us'], '+.1f')} | "
                    f"{ratio} | {_f(row['first_token_ms'], '.2f')} | "
                    f"{_f(row['cpu_us_per_chunk'])} |"
                )
            out.append("")
        return "\n".join(out)

    return render


def _about(results: dict[str, Any]) -> str:
    out = ["| scenario | what runs |", "|---|---|"]
    for name in results["config"]["scenarios"]:
        about = next((results[v][name]["about"] for v in VENDORS if name in results[v]), "")
        out.append(f"| `{name}` | {about} |")
    return "\n".join(out)


def _check(value: float | None, limit: float, spec: str = "+.1f", unit: str = "") -> str:
    mark = "✓" if value is not None and value <= limit else "✗"
    return f"{_f(value, spec)}{unit} {mark}"


def _targets(results: dict[str, Any]) -> str:
    t = results["targets"]

    def pair(key_a: str, key_b: str, spec: str = "+.1f") -> Callable[[str], str]:
        def cell(vendor: str) -> str:
            a, b = t[vendor][key_a], t[vendor][key_b]
            return (
                f"{_check(a['value'], a['limit'], spec)} / {_check(b['value'], b['limit'], spec)}"
            )

        return cell

    rows: list[tuple[str, Callable[[str], str]]] = [
        (
            "model `stream()` / `astream()` adds ≤ 5 µs",
            pair("model_stream_added_us", "model_astream_added_us"),
        ),
        (
            "graph `messages` adds ≤ 15 µs (sync / async)",
            pair("graph_sync_added_us", "graph_async_added_us"),
        ),
        (
            "… and ≤ 1/5 of LangGraph's (sync / async)",
            pair("graph_sync_ratio_to_langgraph", "graph_async_ratio_to_langgraph", ".2f"),
        ),
        (
            "first token added by the graph ≤ 1 ms (sync / async, vs `model.stream`/`astream`)",
            pair("graph_sync_first_token_added_ms", "graph_async_first_token_added_ms", ".2f"),
        ),
        (
            "per-run setup of a small graph ≤ 1 ms (one-token run, graph − model, sync / async)",
            pair("graph_sync_setup_added_ms", "graph_async_setup_added_ms", ".2f"),
        ),
    ]
    growth = results.get("growth")
    if growth:
        short, long = growth["tokens"]

        def flat(vendor: str) -> str:
            g = [row["growth"] for row in growth[vendor].values()]
            return f"{min(g):.2f}–{max(g):.2f}"

        rows.append(
            (
                f"per-chunk cost in stream length (×{long // short}: {short:,} → {long:,} "
                "tokens; 1.00 = flat)",
                flat,
            )
        )
    conc = results.get("concurrency")
    if conc:
        top = max(conc["levels"])

        def at_top(vendor: str, scenario: str) -> dict[str, Any]:
            return next(r for r in conc[vendor][scenario] if r["streams"] == top)

        def within(vendor: str) -> str:
            r = at_top(vendor, "streamtap_graph_messages_async")
            return _check(r["ratio_to_single"], 1.5, ".2f")

        def memory(vendor: str) -> str:
            r = at_top(vendor, "streamtap_graph_messages_async")
            lg = at_top(vendor, "langgraph_messages_async")
            return (
                f"{_check(r['rss_per_stream_kb_over_sdk'], 50.0, '.0f', ' KB')} "
                f"(LangGraph {lg['rss_per_stream_kb_over_sdk']:.0f})"
            )

        rows.append((f"{top:,} streams: per-chunk cost within 1.5× of one stream", within))
        rows.append((f"{top:,} streams: ≤ 50 KB per open stream beyond the SDK's", memory))
    out = [
        "| target | " + " | ".join(TITLE[v] for v in VENDORS) + " |",
        "|---|" + "---|" * len(VENDORS),
    ]
    out += [f"| {label} | " + " | ".join(cell(v) for v in VENDORS) + " |" for label, cell in rows]
    return "\n".join(out)


def _growth(results: dict[str, Any]) -> str:
    growth = results["growth"]
    short, long = growth["tokens"]
    out = [
        f"| vendor | scenario | µs/chunk @ {short:,} | µs/chunk @ {long:,} | growth | cpu growth |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for vendor in VENDORS:
        for name, row in growth.get(vendor, {}).items():
            a, b = row["us_per_chunk"]
            out.append(
                f"| {vendor} | `{name}` | {_f(a)} | {_f(b)} | {_f(row['growth'], '.2f')} | "
                f"{_f(row['cpu_growth'], '.2f')} |"
            )
    return "\n".join(out)


def _concurrency(results: dict[str, Any]) -> str:
    conc = results["concurrency"]
    out = [
        "| vendor | scenario | streams | µs/chunk | × single | ÷ SDK's × | KB/stream | KB over SDK |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for vendor in VENDORS:
        for scenario, rows in conc.get(vendor, {}).items():
            sdk = scenario.startswith("raw_sdk")

            def col(key: str, spec: str, rows: list[dict[str, Any]] = rows) -> str:
                return " / ".join(_f(r.get(key), spec) for r in rows)

            out.append(
                f"| {vendor} | `{scenario}` | {' / '.join(str(r['streams']) for r in rows)} | "
                f"{col('us_per_chunk', '.1f')} | {col('ratio_to_single', '.2f')} | "
                f"{'—' if sdk else col('ratio_to_single_over_sdk', '.2f')} | "
                f"{col('rss_per_stream_kb', '.0f')} | "
                f"{'—' if sdk else col('rss_per_stream_kb_over_sdk', '.0f')} |"
            )
    return "\n".join(out)


def _checkpoints(results: dict[str, Any]) -> str:
    """The `checkpoints` section (`python -m bench --checkpoints-only`): a run line, one table."""
    ck = results.get("checkpoints")
    if not ck:
        log.warning("bench/results.json has no checkpoints: run python -m bench --checkpoints-only")
        return ""
    m, v, servers = ck["machine"], ck["versions"], ck.get("servers", {})
    loads = (m.get("load_average_start") or []) + (m.get("load_average_end") or [])
    load = f", load average {min(loads):.2f}–{max(loads):.2f}" if loads else ""
    libs = ", ".join(
        f"{name} {v[name]}"
        for name in (
            "langgraph",
            "langgraph-checkpoint",
            "langgraph-checkpoint-sqlite",
            "langgraph-checkpoint-postgres",
            "psycopg",
        )
        if name in v
    )
    stores = ", ".join(
        f"{label} {servers[key]}"
        for key, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
        if key in servers
    )
    steps = next((row["steps_per_run"] for row in ck["rows"]), ck["nodes"] + 2)
    where = ck.get("sqlite_dir", {})
    out = [
        f"Run of {m['date'][:16].replace('T', ' ')} UTC: {m['cpus']}-CPU {m['cpu']}{load}, "
        f"{m['implementation']}, {libs}; {stores}. A {ck['nodes']}-node graph "
        f"({steps} checkpoints per run), {ck['warmup']} warm-up and {ck['repeats']} timed "
        f"rounds of {ck['runs_per_round']} runs per graph; SQLite files on "
        f"{where.get('filesystem', 'an unknown file system')} (`{where.get('base', '?')}`)."
        + (" The machine was busy (load average above 0.75 per CPU)." if m.get("busy") else ""),
        "",
        "| saver | mode | streamtap µs/step | LangGraph µs/step | ratio | streamtap checkpoint "
        'µs/step | LangGraph checkpoint µs/step | ratio | LangGraph `durability="sync"` '
        "checkpoint µs/step | ratio | floor µs/step (streamtap / LangGraph) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ck["rows"]:
        st, lg, lgd = row["streamtap"], row["langgraph"], row["langgraph_durable"]
        out.append(
            f"| `{row['saver_class']}` | {row['mode']} | {_f(st['us_per_step'])} | "
            f"{_f(lg['us_per_step'])} | {_f(row['ratio'], '.2f')} | "
            f"{_f(st['checkpoint_us_per_step'])} | {_f(lg['checkpoint_us_per_step'])} | "
            f"{_f(row['checkpoint_ratio'], '.2f')} | {_f(lgd['checkpoint_us_per_step'])} | "
            f"{_f(row['durable_checkpoint_ratio'], '.2f')} | "
            f"{_f(st['floor_us_per_step'])} / {_f(lg['floor_us_per_step'])} |"
        )
    for name, reason in ck.get("skipped", {}).items():
        saver, mode = name.split("/")
        out += ["", f"*{saver} ({mode}) was skipped in this run: {reason}*"]
    return "\n".join(out)


def _bench_file(module: str, command: str) -> tuple[dict[str, Any], Callable[..., str]] | None:
    """``bench/<module>.json`` and the benchmark's own ``table`` (stdlib only), or ``None``
    (with a warning naming ``command``) when the results file is missing."""
    path = ROOT / f"bench/{module}.json"
    if not path.is_file():
        log.warning("bench/%s.json is missing: run %s", module, command)
        return None
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    table = importlib.import_module(f"bench.{module}").table
    return json.loads(path.read_text(encoding="utf-8")), table


def _server_memory(results: dict[str, Any]) -> str:
    """`bench/server_memory.json` (`python -m bench.server_memory`): a run line, its table."""
    found = _bench_file("server_memory", "python -m bench.server_memory")
    if found is None:
        return ""
    data, table = found
    m, v = data["machine"], data["versions"]
    return (
        f"Run of {m['date'][:16].replace('T', ' ')} UTC: {m['cpus']}-CPU {m['cpu']}, "
        f"{m['implementation']}, streamtap {v.get('streamtap', '?')}; RSS of the server "
        "process (`VmRSS`, peak `VmHWM`), a fresh one per row.\n\n" + table(data)
    )


def _bench_run(data: dict[str, Any], libraries: Iterable[str]) -> str:
    """The run line's start: when, on what (load average over the run), with which
    versions (streamtap as its commit where the results name one)."""
    m, v = data["machine"], data["versions"]
    loads = (m.get("load_average_start") or []) + (m.get("load_average_end") or [])
    load = f", load average {min(loads):.2f}–{max(loads):.2f}" if loads else ""
    libs = ", ".join(
        f"{name} {v[name]}" for name in libraries if v.get(name, "not installed") != "not installed"
    )
    if v.get("streamtap_commit"):
        libs = libs.replace(f"streamtap {v['streamtap']}", f"streamtap at {v['streamtap_commit']}")
    return (
        f"Run of {m['date'][:16].replace('T', ' ')} UTC: {m['cpus']}-CPU {m['cpu']}{load}, "
        f"{m['implementation']}, {libs}"
    )


def _bench_section(module: str, libraries: Iterable[str], about: Callable[..., str]) -> str:
    """``bench/<module>.json`` (``python -m bench.<module> --write``) as a run line (what
    ``about`` says of its config after :func:`_bench_run`) and the benchmark's tables."""
    found = _bench_file(module, f"python -m bench.{module} --write")
    if found is None:
        return ""
    data, table = found
    return f"{_bench_run(data, libraries)}. {about(data['config'])}\n\n" + table(data)


def _server_load(results: dict[str, Any]) -> str:
    """`bench/server_load.json` (`python -m bench.server_load --write`): a run line, its tables."""

    def about(c: dict[str, Any]) -> str:
        model = {"fake": "streamtap's `FakeChatModel`", "langchain": "a plain langchain-core model"}
        langgraph = min(
            c["events_per_cell"], c.get("langgraph_events_per_cell", c["events_per_cell"])
        )
        return (
            f"{c['chunks']}-chunk answers from "
            f"{model.get(c.get('model', 'langchain'), c.get('model'))}, about "
            f"{c['events_per_cell']:,} events per cell ({langgraph:,} for `langgraph dev`), "
            f"{c['rounds']} rounds in rotating order (medians shown); server CPU and RSS are "
            "the server process tree's; clients and servers share the machine."
        )

    libraries = ("streamtap", "langgraph", "langgraph-api", "langchain-core", "uvicorn")
    return _bench_section("server_load", libraries, about)


def _cluster(results: dict[str, Any]) -> str:
    """`bench/cluster_load.json` (`python -m bench.cluster_load --write`): a run line, its
    tables (in memory against Postgres + Redis, one process against three)."""

    def about(c: dict[str, Any]) -> str:
        return (
            f"{c['chunks']}-chunk answers, about {c['events_per_cell']:,} events per cell, "
            f"{c['rounds']} rounds in rotating order (medians shown); a pg process runs at "
            f"most {c['jobs']} runs at once; server CPU is the layout's processes' together, "
            "Postgres's and Redis's apart; clients, servers, Postgres and Redis share the "
            "machine."
        )

    libraries = ("streamtap", "langchain-core", "uvicorn", "psycopg", "redis")
    return _bench_section("cluster_load", libraries, about)


def _protocol(results: dict[str, Any]) -> str:
    """`bench/protocol_load.json` (`python -m bench.protocol_load --write`): a run line, its
    tables (the protocol's thread streams against the classic run stream and against
    `langgraph dev`)."""

    def about(c: dict[str, Any]) -> str:
        langgraph = min(c["events_per_cell"], c["langgraph_events_per_cell"])
        return (
            f"{c['chunks']}-chunk answers, about {c['events_per_cell']:,} events per cell "
            f"({langgraph:,} for `langgraph dev`), {c['rounds']} rounds in rotating order "
            "(medians shown); server CPU and RSS are the server process tree's; clients and "
            "servers share the machine."
        )

    libraries = ("streamtap", "langgraph", "langgraph-api", "langchain-core", "uvicorn")
    return _bench_section("protocol_load", libraries, about)


def _frontends(results: dict[str, Any]) -> str:
    """`bench/frontends_load.json` (`python -m bench.frontends_load --write`): a run line, its
    tables (the AI SDK, AG-UI and OpenAI-compatible routes against the classic run stream
    and the protocol; the content-rich answer's bytes)."""

    def about(c: dict[str, Any]) -> str:
        runs = ", ".join(f"{n} at C = {k}" for k, n in c["runs_per_client"].items())
        return (
            f"{c['chunks']}-chunk answers, runs per client {runs} on every route, "
            f"{c['rounds']} rounds in rotating order (medians shown); server CPU and RSS are "
            "the server process tree's (one server process per route); clients and servers "
            "share the machine."
        )

    libraries = ("streamtap", "langgraph", "langchain-core", "ag-ui-protocol", "uvicorn")
    return _bench_section("frontends_load", libraries, about)


def _short(results: dict[str, Any]) -> str:
    """`bench/short_answers.json` (`python -m bench --quick`, 100-token answers): what the
    graph `messages` path adds per chunk over the raw SDK, per-run setup included."""
    path = ROOT / "bench/short_answers.json"
    if not path.is_file():
        log.warning("bench/short_answers.json is missing: run %s", SHORT_COMMAND)
        return ""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = [
        _run(data),
        "",
        "| vendor | transport | raw SDK µs/chunk (sync / async) "
        "| graph `messages` added µs (sync / async) | LangGraph added (sync / async) "
        "| target: async ≤ 5 µs |",
        "|---|---|---:|---:|---:|---|",
    ]
    for vendor in VENDORS:
        for transport in data["config"]["transports"]:

            def row(name: str, key: str, v: str = vendor, t: str = transport) -> float | None:
                found = data[v].get(name, {}).get("by_transport", {}).get(t)
                return None if found is None else found[key]

            added = row("streamtap_graph_messages_async", "added_us")
            out.append(
                f"| {TITLE[vendor]} | {transport} "
                f"| {_f(row('raw_sdk', 'us_per_chunk'))} / {_f(row('raw_sdk_async', 'us_per_chunk'))} "
                f"| {_f(row('streamtap_graph_messages_sync', 'added_us'), '+.1f')} / "
                f"{_f(added, '+.1f')} "
                f"| {_f(row('langgraph_messages_sync', 'added_us'), '+.1f')} / "
                f"{_f(row('langgraph_messages_async', 'added_us'), '+.1f')} "
                f"| {_check(added, 5.0) if transport == 'inprocess' else '— (in process only)'} |"
            )
    return "\n".join(out)


def _sdk_adapters(results: dict[str, Any]) -> str:
    """The `sdk_adapters` section (`python -m bench --sdk-adapters-only`): a run line, one table."""
    section = results.get("sdk_adapters")
    if not section:
        log.warning(
            "bench/results.json has no sdk_adapters: run python -m bench --sdk-adapters-only"
        )
        return ""
    m, v = section["machine"], section["versions"]
    loads = [*(m.get("load_average_start") or []), *(m.get("load_average_end") or [])]
    load = f", load average {min(loads):.2f}–{max(loads):.2f}" if loads else ""
    libs = ", ".join(f"{name} {version}" for name, version in v.items() if name != "python")
    head = (
        f"Run of {m['date'][:16].replace('T', ' ')} UTC: {m['cpus']}-CPU {m['cpu']}{load}, "
        f"{m['implementation']}, {libs}."
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    table = importlib.import_module("bench.sdk_adapters").table
    return f"{head}\n\n{table(section)}"


SHORT_COMMAND = "python -m bench --quick --warmup 1 --repeats 7 --json bench/short_answers.json"

_TABLES: dict[str, Callable[[dict[str, Any]], str]] = {
    "short": _short,
    "run": _run,
    "scenarios": _about,
    "inprocess": _scenarios("inprocess"),
    "loopback": _scenarios("loopback"),
    "targets": _targets,
    "growth": _growth,
    "concurrency": _concurrency,
    "checkpoints": _checkpoints,
    "sdk_adapters": _sdk_adapters,
    "server-memory": _server_memory,
    "server-load": _server_load,
    "cluster": _cluster,
    "protocol": _protocol,
    "frontends": _frontends,
}
