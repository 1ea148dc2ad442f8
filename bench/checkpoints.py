"""Checkpoint cost per super-step: streamtap.graph and LangGraph on the same kind of saver.

A thread's checkpoints are written once per super-step, so a saver's cost is paid on every
step of every run, and it is LangGraph's own savers and format that streamtap.graph writes
(issue 17). This group measures that cost side by side with LangGraph, one row per saver kind
and mode:

* ``memory``: ``InMemorySaver``, ``invoke`` and ``ainvoke``;
* ``sqlite``: ``SqliteSaver`` / ``AsyncSqliteSaver`` on a file in a temporary directory, on a
  memory file system (``/dev/shm``) when there is one: a shared machine's disk makes each
  commit's fsync swing by 10x between minutes, which would drown what the engines do (both
  pay it alike; ``sqlite_dir=`` / ``--checkpoint-sqlite-dir`` measure a real disk);
* ``postgres``: ``PostgresSaver`` / ``AsyncPostgresSaver`` on a throw-away server
  (``tests/_postgres.py``, or ``STREAMTAP_PG_DSN``); skipped, with the reason, without one.

Each engine runs the same linear graph of ``nodes`` trivial nodes over a state with a counter,
an ``operator.add`` log and a few LangChain messages (so serialization is realistic), built
with ``streamtap.graph`` and with ``langgraph.graph``, each with its own saver instance:
``streamtap.graph`` hardens the saver it is given in place (its strict serializer), which
LangGraph does not, and a shared instance would give LangGraph the strict one too. Both
engines run with their defaults: LangGraph's ``durability="async"`` saves while the next step
runs (from a background thread, or a task), streamtap.graph saves before the next step starts.
So a third variant, LangGraph with ``durability="sync"`` (``langgraph_durable``, with a saver
only: without one durability changes nothing), compares the two at the same guarantee.

The floor is the same graph compiled without a checkpointer, per engine and mode, so
``checkpoint_us_per_step`` = (with saver − without) / steps, paired within a round. A step is
one checkpoint written: the input, ``__start__`` and one per node (``nodes + 2``), counted
from the saver on the first run and checked equal on every variant.

A round runs ``runs_per_round`` passes; a pass invokes each of the five graphs (2 engines x
with/without saver, and ``langgraph_durable``) once, in a fresh random order, on a new
``thread_id``. Figures are medians over rounds; ``ratio`` is the median of the same-round ratios
streamtap ÷ LangGraph (with the saver), ``checkpoint_ratio`` the ratio of the checkpoint costs.

    python -m bench --checkpoints-only              # this group only, merged into results.json
    python -m bench --checkpoints-only --quick --json out.json --checkpoint-savers memory
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import operator
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Final, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage

from bench import machine

__all__ = ["ENGINES", "MODES", "SAVERS", "VARIANTS", "run", "table"]

SAVERS: Final = ("memory", "sqlite", "postgres")
MODES: Final = ("sync", "async")
ENGINES: Final = ("streamtap", "langgraph")
#: What is timed with a saver: both engines as they come, and LangGraph saving before each
#: next step as streamtap.graph does (its floor is LangGraph's: no saver, nothing to save).
VARIANTS: Final = (*ENGINES, "langgraph_durable")
_FLOOR: Final = {
    "streamtap": "streamtap",
    "langgraph": "langgraph",
    "langgraph_durable": "langgraph",
}
#: The saver classes each (kind, mode) row uses, for the table and the JSON.
SAVER_CLASS: Final = {
    ("memory", "sync"): "InMemorySaver",
    ("memory", "async"): "InMemorySaver",
    ("sqlite", "sync"): "SqliteSaver",
    ("sqlite", "async"): "AsyncSqliteSaver",
    ("postgres", "sync"): "PostgresSaver",
    ("postgres", "async"): "AsyncPostgresSaver",
}
VERSIONED: Final = (
    "streamtap",
    "langgraph",
    "langgraph-checkpoint",
    "langgraph-checkpoint-sqlite",
    "langgraph-checkpoint-postgres",
    "langchain-core",
    "aiosqlite",
    "psycopg",
)

#: Above this one-minute load average per CPU the run is marked busy (as bench.cli does).
BUSY_LOAD_PER_CPU: Final = 0.75

#: The conversation every run starts from: what an agent's state holds after one tool call.
MESSAGES: Final[tuple[AnyMessage, ...]] = (
    SystemMessage("You are a terse weather assistant.", id="bench-system"),
    HumanMessage("What is the weather in Paris tomorrow?", id="bench-human"),
    AIMessage(
        "",
        id="bench-ai-call",
        tool_calls=[{"name": "forecast", "args": {"city": "Paris", "day": 1}, "id": "call-1"}],
        usage_metadata={"input_tokens": 41, "output_tokens": 12, "total_tokens": 53},
    ),
    ToolMessage('{"high": 18, "low": 11, "sky": "cloudy"}', tool_call_id="call-1", id="bench-tool"),
    AIMessage("18 °C and cloudy, 11 °C at night.", id="bench-ai-answer"),
)


# --------------------------------------------------------------------------- graphs


def _state_schema(add_messages: Callable[..., Any]) -> Any:
    """The state, with the engine's own ``add_messages`` (each runs on its own reducer).

    Functional form: evaluated here, so the reducer local to this call is what the
    annotation holds (a class body under postponed annotations would name it by string).
    """
    return TypedDict(  # type: ignore[operator]
        "CheckpointBenchState",
        {
            "messages": Annotated[list[AnyMessage], add_messages],
            "log": Annotated[list[str], operator.add],
            "count": int,
        },
    )


def build_graph(engine: str, nodes: int, checkpointer: Any = None) -> Any:
    """``nodes`` trivial nodes in a line; the last one answers with a message, as an agent would."""
    if engine == "streamtap":
        from streamtap.graph import END, START, StateGraph, add_messages
    elif engine == "langgraph":
        from langgraph.graph import END, START, StateGraph, add_messages  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    builder: Any = StateGraph(_state_schema(add_messages))
    previous = START
    for index in range(nodes):
        name = f"step_{index}"
        last = index == nodes - 1

        def node(state: dict[str, Any], name: str = name, last: bool = last) -> dict[str, Any]:
            update: dict[str, Any] = {"log": [name], "count": state["count"] + 1}
            if last:
                update["messages"] = [AIMessage("done", id="bench-final")]
            return update

        builder.add_node(name, node)
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder.compile(checkpointer=checkpointer)


def graph_input() -> dict[str, Any]:
    return {"messages": list(MESSAGES), "log": [], "count": 0}


def _config() -> dict[str, Any]:
    return {"configurable": {"thread_id": uuid.uuid4().hex}}


# --------------------------------------------------------------------------- savers


class SaverUnavailable(Exception):
    """A saver kind that cannot run here (no PostgreSQL server): its rows are skipped."""


@dataclass
class Resources:
    """What the savers of one benchmark run live on, closed when the run ends."""

    stack: ExitStack
    astack: AsyncExitStack
    aio: asyncio.Runner
    #: A temporary directory for the SQLite files, deleted with the run.
    sqlite_dir: Path
    dsn: str | None = None
    postgres_error: str | None = None
    server: dict[str, str] = field(default_factory=dict)

    def postgres(self) -> str:
        """The DSN of a temporary server, started on first use (its start takes seconds)."""
        if self.postgres_error is not None:
            raise SaverUnavailable(self.postgres_error)
        if self.dsn is None:
            try:
                from tests._postgres import PostgresUnavailable, temporary_postgres
            except ImportError as e:  # bench run from outside the repository
                self.postgres_error = f"tests/_postgres.py is not importable: {e}"
                raise SaverUnavailable(self.postgres_error) from e
            try:
                self.dsn = self.stack.enter_context(temporary_postgres("streamtap_bench"))
            except PostgresUnavailable as e:
                self.postgres_error = e.reason
                raise SaverUnavailable(e.reason) from e
        return self.dsn


def make_saver(kind: str, mode: str, variant: str, res: Resources) -> Any:
    """A fresh saver of ``kind`` for one variant: LangGraph's class, as users build it."""
    if kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if kind == "sqlite":
        path = res.sqlite_dir / f"{variant}-{mode}.sqlite"
        res.server.setdefault("sqlite", sqlite3.sqlite_version)
        if mode == "sync":
            from langgraph.checkpoint.sqlite import SqliteSaver

            # LangGraph saves from a background thread (durability="async")
            conn = sqlite3.connect(str(path), check_same_thread=False)
            res.stack.callback(conn.close)
            return SqliteSaver(conn)
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        return res.aio.run(
            res.astack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(path)))
        )
    if kind == "postgres":
        dsn = res.postgres()
        if mode == "sync":
            from langgraph.checkpoint.postgres import PostgresSaver

            saver: Any = res.stack.enter_context(PostgresSaver.from_conn_string(dsn))
            saver.setup()
            _note_server(res, saver)
            return saver
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async def open_async() -> Any:
            asaver = await res.astack.enter_async_context(AsyncPostgresSaver.from_conn_string(dsn))
            await asaver.setup()
            _note_server(res, asaver)
            return asaver

        return res.aio.run(open_async())
    raise ValueError(f"unknown saver {kind!r}; known: {', '.join(SAVERS)}")


def _note_server(res: Resources, saver: Any) -> None:
    version = int(saver.conn.info.server_version)  # 150018 = 15.18
    res.server.setdefault("postgres", f"{version // 10000}.{version % 10000}")


# --------------------------------------------------------------------------- timing


@dataclass
class Group:
    """One row: every variant, with and without a saver of one kind, in one mode."""

    kind: str
    mode: str
    nodes: int
    graphs: dict[tuple[str, bool], Any]
    savers: dict[str, Any]
    steps: int = 0
    #: Per (variant, with_saver): per round, µs per step (wall clock; CPU of this process).
    wall: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, bool], list[float]] = field(default_factory=dict)


def _invoke(group: Group, key: tuple[str, bool], aio: asyncio.Runner) -> tuple[float, float]:
    """One run on a new thread_id: (wall s, CPU s of this process, all threads)."""
    graph = group.graphs[key]
    inputs, config = graph_input(), _config()
    kwargs = _kwargs(key[0])
    if group.mode == "async":

        async def timed() -> tuple[float, float]:
            c0, t0 = time.process_time(), time.perf_counter()
            await graph.ainvoke(inputs, config, **kwargs)
            return time.perf_counter() - t0, time.process_time() - c0

        return aio.run(timed())
    c0, t0 = time.process_time(), time.perf_counter()
    graph.invoke(inputs, config, **kwargs)
    return time.perf_counter() - t0, time.process_time() - c0


def _kwargs(variant: str) -> dict[str, Any]:
    return {"durability": "sync"} if variant == "langgraph_durable" else {}


def _checkpoints(group: Group, variant: str, config: dict[str, Any], aio: asyncio.Runner) -> int:
    saver = group.savers[variant]
    if group.mode == "async":

        async def count() -> int:
            return len([c async for c in saver.alist(config)])

        return aio.run(count())
    return len(list(saver.list(config)))


def validate(group: Group, aio: asyncio.Runner) -> None:
    """Untimed: every graph ends in the same state; every variant writes as many checkpoints.

    The state is read back from the saver too, through streamtap's strict serializer on its
    side: a benchmark of saves that could not be loaded would measure nothing useful.
    """
    counts = {}
    expected_log = [f"step_{i}" for i in range(group.nodes)]
    for (variant, saved), graph in group.graphs.items():
        label = f"{group.kind}/{group.mode}/{variant}"
        config, kwargs = _config(), _kwargs(variant)
        if group.mode == "async":
            out = aio.run(graph.ainvoke(graph_input(), config, **kwargs))
        else:
            out = graph.invoke(graph_input(), config, **kwargs)
        if out["count"] != group.nodes or out["log"] != expected_log:
            raise AssertionError(f"{label}: wrong final state {out!r}")
        if len(out["messages"]) != len(MESSAGES) + 1:
            raise AssertionError(f"{label}: {len(out['messages'])} messages")
        if not saved:
            continue
        if group.mode == "async":
            stored = aio.run(graph.aget_state(config)).values
        else:
            stored = graph.get_state(config).values
        if stored["log"] != expected_log or stored["messages"] != out["messages"]:
            raise AssertionError(f"{label}: the saved state differs from the output")
        counts[variant] = _checkpoints(group, variant, config, aio)
    if len(set(counts.values())) != 1 or not all(counts.values()):
        raise AssertionError(f"{group.kind}/{group.mode}: checkpoints per run differ: {counts}")
    group.steps = next(iter(counts.values()))


def measure(
    group: Group,
    aio: asyncio.Runner,
    *,
    repeats: int,
    warmup: int,
    runs_per_round: int,
    rng: random.Random,
) -> None:
    """``warmup`` untimed rounds, then ``repeats`` rounds of interleaved passes."""
    keys = list(group.graphs)
    group.wall = {k: [] for k in keys}
    group.cpu = {k: [] for k in keys}
    for index in range(warmup + repeats):
        sums = {k: [0.0, 0.0] for k in keys}
        for _ in range(runs_per_round):
            rng.shuffle(keys)
            for key in keys:
                # collect and freeze what survives (savers keep every run's checkpoints):
                # the collector then only walks what this run makes
                gc.collect()
                gc.freeze()
                wall, used = _invoke(group, key, aio)
                sums[key][0] += wall
                sums[key][1] += used
        if index < warmup:
            continue
        per = 1e6 / (runs_per_round * group.steps)
        for key, (wall, used) in sums.items():
            group.wall[key].append(wall * per)
            group.cpu[key].append(used * per)


# --------------------------------------------------------------------------- summary


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _paired(a: Sequence[float], b: Sequence[float]) -> float:
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def summarize(group: Group) -> dict[str, Any]:
    """One row of the JSON: per variant, the step cost with and without the saver, and ratios."""
    row: dict[str, Any] = {
        "saver": group.kind,
        "mode": group.mode,
        "saver_class": SAVER_CLASS[group.kind, group.mode],
        "nodes": group.nodes,
        "steps_per_run": group.steps,
        "rounds": len(group.wall[ENGINES[0], True]),
    }
    for variant in VARIANTS:
        with_w, floor_w = group.wall[variant, True], group.wall[_FLOOR[variant], False]
        with_c, floor_c = group.cpu[variant, True], group.cpu[_FLOOR[variant], False]
        row[variant] = {
            "us_per_step": _round(statistics.median(with_w)),
            "floor_us_per_step": _round(statistics.median(floor_w)),
            "checkpoint_us_per_step": _round(_paired(with_w, floor_w)),
            "cpu_us_per_step": _round(statistics.median(with_c)),
            "cpu_floor_us_per_step": _round(statistics.median(floor_c)),
            "cpu_checkpoint_us_per_step": _round(_paired(with_c, floor_c)),
        }
    for prefix, peer in (("", "langgraph"), ("durable_", "langgraph_durable")):
        st, lg = row["streamtap"], row[peer]
        same_round = [
            a / b
            for a, b in zip(group.wall["streamtap", True], group.wall[peer, True], strict=True)
        ]
        row[f"{prefix}ratio"] = _round(statistics.median(same_round), 3)
        row[f"{prefix}checkpoint_ratio"] = _round(
            _ratio(st["checkpoint_us_per_step"], lg["checkpoint_us_per_step"]), 3
        )
        row[f"{prefix}cpu_checkpoint_ratio"] = _round(
            _ratio(st["cpu_checkpoint_us_per_step"], lg["cpu_checkpoint_us_per_step"]), 3
        )
    return row


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run(
    *,
    savers: Sequence[str] = SAVERS,
    modes: Sequence[str] = MODES,
    nodes: int = 20,
    repeats: int = 15,
    warmup: int = 1,
    runs_per_round: int = 3,
    seed: int = 20250,
    sqlite_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure every (saver, mode) row; returns the ``checkpoints`` section of results.json."""
    unknown = [s for s in savers if s not in SAVERS] + [m for m in modes if m not in MODES]
    if unknown or not savers or not modes:
        raise ValueError(f"unknown savers/modes {unknown}; known: {SAVERS}, {MODES}")
    if nodes < 1 or repeats < 1 or runs_per_round < 1 or warmup < 0:
        raise ValueError("nodes, repeats and runs_per_round must be >= 1, warmup >= 0")
    say = progress or (lambda message: None)
    info = machine.machine()
    started = time.perf_counter()
    rng = random.Random(seed)
    section: dict[str, Any] = {
        "nodes": nodes,
        "repeats": repeats,
        "warmup": warmup,
        "runs_per_round": runs_per_round,
        "seed": seed,
        "statistic": "medians over interleaved rounds of µs per step (one checkpoint written); "
        "checkpoint = (with saver − without) paired within a round; ratio = median of "
        "same-round streamtap ÷ LangGraph (with saver); checkpoint_ratio = ratio of the "
        "checkpoint costs; durable_* = the same against LangGraph with durability='sync'",
        "rows": [],
        "skipped": {},
    }
    base = Path(sqlite_dir) if sqlite_dir is not None else _memory_fs()
    section["sqlite_dir"] = {
        "base": str(base) if base is not None else tempfile.gettempdir(),
        "filesystem": _filesystem(base or Path(tempfile.gettempdir())),
    }
    with _resources(base) as res:
        for kind in savers:
            for mode in modes:
                label = f"[checkpoints/{kind}/{mode}]"
                try:
                    group = _group(kind, mode, nodes, res)
                except SaverUnavailable as e:
                    section["skipped"][f"{kind}/{mode}"] = str(e)
                    say(f"{label} skipped: {e}")
                    continue
                validate(group, res.aio)
                say(f"{label} {group.steps} checkpoints per run; {repeats} rounds")
                measure(
                    group,
                    res.aio,
                    repeats=repeats,
                    warmup=warmup,
                    runs_per_round=runs_per_round,
                    rng=rng,
                )
                section["rows"].append(summarize(group))
        section["servers"] = dict(res.server)
    info["load_average_end"] = machine.load_average()
    info["duration_s"] = round(time.perf_counter() - started, 1)
    loads = [x for k in ("load_average_start", "load_average_end") for x in (info[k] or [])[:1]]
    info["busy"] = any(load / (info["cpus"] or 1) > BUSY_LOAD_PER_CPU for load in loads)
    section["machine"] = info
    section["versions"] = _versions()
    return section


@contextlib.contextmanager
def _resources(sqlite_base: Path | None = None) -> Iterator[Resources]:
    with (
        ExitStack() as stack,
        asyncio.Runner() as aio,
        tempfile.TemporaryDirectory(prefix="streamtap-bench-", dir=sqlite_base) as sqlite_dir,
    ):
        astack = AsyncExitStack()
        try:
            yield Resources(stack, astack, aio, Path(sqlite_dir))
        finally:
            aio.run(astack.aclose())  # async savers close on the loop that opened them


MEMORY_FS: Final = Path("/dev/shm")


def _memory_fs() -> Path | None:
    """``/dev/shm`` when it is a writable tmpfs, else None (the default temporary directory)."""
    if MEMORY_FS.is_dir() and _filesystem(MEMORY_FS) == "tmpfs":
        with contextlib.suppress(OSError), tempfile.TemporaryFile(dir=MEMORY_FS):
            return MEMORY_FS
    return None


def _filesystem(path: Path) -> str:
    """The type of the file system ``path`` is on (Linux ``/proc/mounts``), or "unknown"."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    resolved, best, kind = str(path.resolve()), "", "unknown"
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def _group(kind: str, mode: str, nodes: int, res: Resources) -> Group:
    graphs: dict[tuple[str, bool], Any] = {}
    savers: dict[str, Any] = {}
    for variant in VARIANTS:
        engine = _FLOOR[variant]
        savers[variant] = make_saver(kind, mode, variant, res)
        graphs[variant, True] = build_graph(engine, nodes, savers[variant])
        if variant == engine:
            graphs[engine, False] = build_graph(engine, nodes)
    return Group(kind, mode, nodes, graphs, savers)


# --------------------------------------------------------------------------- printing


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def table(section: dict[str, Any]) -> str:
    """The printed table: per saver and mode, µs per step with the saver and its cost."""
    head = (
        f"{'saver':9} {'mode':5} {'streamtap':>9} {'LangGraph':>9} {'ratio':>6} "
        f"{'st ckpt':>8} {'LG ckpt':>8} {'ratio':>6} {'LG sync':>8} {'ratio':>6} "
        f"{'st floor':>8} {'LG floor':>8}"
    )
    lines = [
        f"checkpoint cost per super-step, {section['nodes']}-node graph: µs per step with the "
        "saver; ckpt = with saver − without;\nLG sync = LangGraph's ckpt with "
        "durability='sync'; floor = no checkpointer",
        head,
        "-" * len(head),
    ]
    for row in section["rows"]:
        st, lg, lgd = row["streamtap"], row["langgraph"], row["langgraph_durable"]
        lines.append(
            f"{row['saver']:9} {row['mode']:5} {_fmt(st['us_per_step']):>9} "
            f"{_fmt(lg['us_per_step']):>9} {_fmt(row['ratio'], '.2f'):>6} "
            f"{_fmt(st['checkpoint_us_per_step']):>8} {_fmt(lg['checkpoint_us_per_step']):>8} "
            f"{_fmt(row['checkpoint_ratio'], '.2f'):>6} "
            f"{_fmt(lgd['checkpoint_us_per_step']):>8} "
            f"{_fmt(row['durable_checkpoint_ratio'], '.2f'):>6} "
            f"{_fmt(st['floor_us_per_step']):>8} {_fmt(lg['floor_us_per_step']):>8}"
        )
    for name, reason in section.get("skipped", {}).items():
        lines.append(f"{name}: skipped ({reason})")
    return "\n".join(lines)
