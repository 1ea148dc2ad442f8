"""Checkpoints are data, never code: a tampered store row is refused on every saver.

Each crafted payload is written into the saver's own storage the way a
tampered row would look (the memory saver's dicts, SQL ``UPDATE`` for SQLite
and Postgres), then loaded through the saver's normal API. The hardened saver
raises ``UnsafeCheckpointError`` and the marker file the payload would create
stays absent; the same row loaded with LangGraph's default serializer (for
contrast, and to prove the payload is live) creates it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import pickle
import re
import shlex
import sqlite3
import subprocess
import sys
import typing
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from ipaddress import IPv4Address
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, NewType, TypedDict
from zoneinfo import ZoneInfo

import ormsgpack
import pytest
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde import _msgpack, jsonplus
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import BaseModel, SecretStr

from streamtap.graph import types as st_types
from streamtap.graph.checkpoint.serde import (
    DEFAULT_ALLOWED,
    STREAMTAP_TYPES,
    StrictSerializer,
    UnsafeCheckpointError,
    harden,
    types_in_schemas,
)

ROOT = Path(__file__).resolve().parents[2]
THREAD = "t1"
LANGGRAPH_PERMISSIVE = not _msgpack.STRICT_MSGPACK_ENABLED


# --- user types (module level, so LangGraph's own serializer can import them by name) ------


class Mood(enum.Enum):
    CALM = "calm"
    LOUD = "loud"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Profile(BaseModel):
    name: str
    mood: Mood
    seen: datetime
    home: Point | None = None


class Pair(NamedTuple):
    left: int
    right: int


class State(TypedDict):
    messages: Annotated[list[AnyMessage], "reducer"]
    profile: Profile | None


ALLOW = types_in_schemas(State)


def rich_values() -> list[Any]:
    import langgraph.types as lg  # the runtime: only tests import it

    return [
        HumanMessage("hi", id="h1"),
        AIMessage("calling", id="a1", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}]),
        ToolMessage("done", tool_call_id="c1", id="t1"),
        SystemMessage("be brief", id="s1"),
        RemoveMessage(id="h0"),
        Document(page_content="doc", metadata={"k": "v"}),
        st_types.Send("node", {"arg": 1}),
        st_types.Interrupt("approve?", "i1"),
        st_types.Command(resume="yes", goto=[st_types.Send("x", 1)]),
        lg.Send("node", {"arg": 2}),
        lg.Interrupt("lg?", id="i2"),
        lg.Command(resume={"i2": "ok"}, goto=[lg.Send("y", 2)]),  # a tuple comes back a list
        datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        date(2024, 5, 1),
        time(8, 15),
        timedelta(days=1, seconds=5),
        timezone(timedelta(hours=2)),
        ZoneInfo("Europe/Paris"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        Decimal("1.10"),
        {1, 2},
        frozenset({"a"}),
        deque([1, 2]),
        Path("/tmp/x"),
        IPv4Address("10.0.0.1"),
        re.compile("a+b", re.I),
        Profile(name="ann", mood=Mood.LOUD, seen=datetime(2024, 1, 1), home=Point(1, 2)),
        Point(3, 4),
        Mood.CALM,
        {"nested": [Pair(1, 2)._asdict(), b"raw bytes"]},
    ]


# --- crafted payloads -------------------------------------------------------------------------

EVIL = object()  # where a payload goes inside the container it is stored in


def _swap(container: Any, replacement: Any) -> Any:
    if container is EVIL:
        return replacement
    if isinstance(container, dict):
        return {k: _swap(v, replacement) for k, v in container.items()}
    if isinstance(container, list):
        return [_swap(v, replacement) for v in container]
    return container


class _Touch:
    """A real pickle payload: unpickling it calls ``Path.touch(marker)``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _ext(code: int, *fields: Any) -> ormsgpack.Ext:
    """An extension exactly as LangGraph's encoder builds one: ``Ext(code, packb((module, name, ...)))``."""
    return ormsgpack.Ext(code, ormsgpack.packb(fields))


@dataclasses.dataclass(frozen=True)
class Payload:
    id: str
    fmt: Literal["pickle", "msgpack", "json"]
    build: Callable[[Path], Any]  # marker -> what replaces EVIL
    langgraph_runs_it: bool  # LangGraph's (permissive default / pickle-fallback) serializer runs it

    def encode(self, container: Any, marker: Path) -> tuple[str, bytes]:
        evil = self.build(marker)
        if self.fmt == "pickle":
            return "pickle", pickle.dumps(_swap(container, evil))
        if self.fmt == "json":
            return "json", json.dumps(_swap(container, evil)).encode()

        def default(obj: Any) -> Any:
            return evil if obj is EVIL else jsonplus._msgpack_default(obj)

        return "msgpack", ormsgpack.packb(container, default=default, option=jsonplus._option)

    def langgraph_serde(self) -> JsonPlusSerializer:
        return JsonPlusSerializer(pickle_fallback=self.fmt == "pickle")


def _sh(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


E = jsonplus
PAYLOADS = [
    Payload("pickle", "pickle", _Touch, True),
    Payload(
        "msgpack-os-system",
        "msgpack",
        lambda m: _ext(E.EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system", _sh(m)),
        True,
    ),
    Payload(
        "msgpack-pos-args",
        "msgpack",
        lambda m: _ext(E.EXT_CONSTRUCTOR_POS_ARGS, "os", "system", [_sh(m)]),
        True,
    ),
    Payload(
        "msgpack-kw-args",
        "msgpack",
        lambda m: _ext(E.EXT_CONSTRUCTOR_KW_ARGS, "subprocess", "run", {"args": ["touch", str(m)]}),
        True,
    ),
    Payload(
        "msgpack-pydantic-v2",
        "msgpack",
        lambda m: _ext(
            E.EXT_PYDANTIC_V2, "subprocess", "run", {"args": ["touch", str(m)]}, "model_validate"
        ),
        True,
    ),
    Payload(
        "msgpack-pydantic-v1",
        "msgpack",
        lambda m: _ext(E.EXT_PYDANTIC_V1, "subprocess", "run", {"args": ["touch", str(m)]}),
        True,
    ),
    Payload(
        "msgpack-method",
        "msgpack",
        lambda m: _ext(E.EXT_METHOD_SINGLE_ARG, "os", "system", _sh(m), "__call__"),
        False,  # LangGraph checks methods even when permissive
    ),
    Payload(
        "msgpack-inside-allowed-message",
        "msgpack",
        lambda m: _ext(
            E.EXT_PYDANTIC_V2,
            "langchain_core.messages.human",
            "HumanMessage",
            {
                "content": "hi",
                "additional_kwargs": {
                    "x": _ext(E.EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system", _sh(m))
                },
            },
            "model_validate",
        ),
        True,
    ),
    Payload(
        "json-lc2-os-system",
        "json",
        lambda m: {"lc": 2, "type": "constructor", "id": ["os", "system"], "args": [_sh(m)]},
        False,  # LangGraph's json path hands back the dict
    ),
    Payload(
        "json-lc1-unlisted-class",
        "json",
        lambda m: {
            "lc": 1,
            "type": "constructor",
            "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
            "kwargs": {"template": "{x}", "input_variables": ["x"]},
        },
        False,  # LangGraph revives it (no code of the payload's choosing, but not state)
    ),
]


# --- the savers -------------------------------------------------------------------------------

SAVERS = ["memory", "sqlite", "async-sqlite", "postgres", "async-postgres"]


@dataclasses.dataclass
class Store:
    """One saver plus raw access to where it keeps a checkpoint's bytes."""

    kind: str
    saver: BaseCheckpointSaver[Any]
    tamper_value: Callable[[Callable[[Any], tuple[str, bytes]]], None]
    tamper_write: Callable[[Callable[[Any], tuple[str, bytes]]], None]
    is_async: bool = False
    config: RunnableConfig = dataclasses.field(
        default_factory=lambda: {"configurable": {"thread_id": THREAD}}
    )

    async def put(self, value: Any, write: Any, thread: str = THREAD) -> None:
        cp = empty_checkpoint()
        version = self.saver.get_next_version(None, None)
        cp["channel_values"] = {"messages": value}
        cp["channel_versions"] = {"messages": version}
        start: RunnableConfig = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        meta: Any = {"source": "input", "step": -1}
        writes = [("messages", write)]
        if self.is_async:
            cfg = await self.saver.aput(start, cp, meta, {"messages": version})
            await self.saver.aput_writes(cfg, writes, "task-1")
        else:
            cfg = self.saver.put(start, cp, meta, {"messages": version})
            self.saver.put_writes(cfg, writes, "task-1")

    async def get(self, thread: str = THREAD) -> CheckpointTuple | None:
        config: RunnableConfig = {"configurable": {"thread_id": thread}}
        if self.is_async:
            return await self.saver.aget_tuple(config)
        return self.saver.get_tuple(config)

    async def listed(self) -> list[CheckpointTuple]:
        if self.is_async:
            return [t async for t in self.saver.alist(self.config)]
        return list(self.saver.list(self.config))


def _memory_store(saver: InMemorySaver) -> Store:
    def tamper_value(encode: Callable[[Any], tuple[str, bytes]]) -> None:
        for key in list(saver.blobs):
            if key[2] == "messages":
                saver.blobs[key] = encode([EVIL])

    def tamper_write(encode: Callable[[Any], tuple[str, bytes]]) -> None:
        for slots in saver.writes.values():
            for slot, (task, channel, _, path) in list(slots.items()):
                slots[slot] = (task, channel, encode([EVIL]), path)

    return Store("memory", saver, tamper_value, tamper_write)


def _sqlite_tamper(path: Path) -> tuple[Callable[..., None], Callable[..., None]]:
    def tamper_value(encode: Callable[[Any], tuple[str, bytes]]) -> None:
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            type_, blob = conn.execute("SELECT type, checkpoint FROM checkpoints").fetchone()
            checkpoint = StrictSerializer().loads_typed((type_, blob))
            checkpoint["channel_values"]["messages"] = [EVIL]
            conn.execute("UPDATE checkpoints SET type = ?, checkpoint = ?", encode(checkpoint))

    def tamper_write(encode: Callable[[Any], tuple[str, bytes]]) -> None:
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE writes SET type = ?, value = ?", encode([EVIL]))

    return tamper_value, tamper_write


def _postgres_tamper(dsn: str) -> tuple[Callable[..., None], Callable[..., None]]:
    import psycopg

    def run(sql: str, row: tuple[str, bytes]) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute(sql, row).rowcount >= 1

    def tamper_value(encode: Callable[[Any], tuple[str, bytes]]) -> None:
        run(
            "UPDATE checkpoint_blobs SET type = %s, blob = %s WHERE channel = 'messages'",
            encode([EVIL]),
        )

    def tamper_write(encode: Callable[[Any], tuple[str, bytes]]) -> None:
        run("UPDATE checkpoint_writes SET type = %s, blob = %s", encode([EVIL]))

    return tamper_value, tamper_write


@contextlib.asynccontextmanager
async def open_store(kind: str, tmp_path: Path, dsn: str | None) -> AsyncIterator[Store]:
    if kind == "memory":
        yield _memory_store(InMemorySaver())
    elif kind == "sqlite":
        path = tmp_path / "cp.sqlite"
        with contextlib.closing(sqlite3.connect(path, check_same_thread=False)) as conn:
            yield Store(kind, SqliteSaver(conn), *_sqlite_tamper(path))
    elif kind == "async-sqlite":
        path = tmp_path / "cp.sqlite"
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            yield Store(kind, saver, *_sqlite_tamper(path), is_async=True)
    elif kind == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver

        assert dsn is not None
        with PostgresSaver.from_conn_string(dsn) as pg:
            pg.setup()
            yield Store(kind, pg, *_postgres_tamper(dsn))
    else:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        assert dsn is not None
        async with AsyncPostgresSaver.from_conn_string(dsn) as apg:
            await apg.setup()
            yield Store(kind, apg, *_postgres_tamper(dsn), is_async=True)


@pytest.fixture(params=SAVERS)
def store_of(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], contextlib.AbstractAsyncContextManager[Store]]:
    kind: str = request.param
    dsn = request.getfixturevalue("postgres_db") if "postgres" in kind else None
    return lambda: open_store(kind, tmp_path, dsn)


# --- a tampered row is refused, on every saver -------------------------------------------------


@pytest.mark.parametrize("place", ["checkpoint", "pending-write"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
async def test_a_crafted_row_is_refused_and_runs_nothing(
    store_of: Callable[[], contextlib.AbstractAsyncContextManager[Store]],
    payload: Payload,
    place: str,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    async with store_of() as store:
        harden(store.saver, allow=ALLOW)
        await store.put([HumanMessage("hi", id="1")], [AIMessage("yo", id="2")])
        tamper = store.tamper_value if place == "checkpoint" else store.tamper_write
        tamper(lambda container: payload.encode(container, marker))

        with pytest.raises(UnsafeCheckpointError) as refused:
            await store.get()
        with pytest.raises(UnsafeCheckpointError):
            await store.listed()
        assert not marker.exists()
        if payload.fmt == "pickle":
            assert refused.value.format == "pickle"
        elif payload.id != "msgpack-method":
            assert refused.value.type_name in {
                "os.system",
                "subprocess.run",
                "langchain_core.prompts.prompt.PromptTemplate",
            }

        # the same row through LangGraph's serializer: proves the payload is live
        if LANGGRAPH_PERMISSIVE:
            store.saver.serde = payload.langgraph_serde()
            await store.get()
            assert marker.exists() is payload.langgraph_runs_it


async def test_allowed_values_survive_every_saver(
    store_of: Callable[[], contextlib.AbstractAsyncContextManager[Store]],
) -> None:
    values = rich_values()
    async with store_of() as store:
        harden(store.saver, allow=ALLOW)
        await store.put(values, values)
        got = await store.get()
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == values
        assert got.pending_writes == [("task-1", "messages", values)]
        [listed] = await store.listed()
        assert listed.checkpoint["channel_values"]["messages"] == values


@pytest.mark.skipif(not LANGGRAPH_PERMISSIVE, reason="LANGGRAPH_STRICT_MSGPACK is set")
async def test_threads_move_between_langgraph_default_and_strict_serializers(
    store_of: Callable[[], contextlib.AbstractAsyncContextManager[Store]],
) -> None:
    values = rich_values()
    async with store_of() as store:
        store.saver.serde = JsonPlusSerializer()  # LangGraph's default writes ...
        await store.put(values, values, thread="from-langgraph")
        harden(store.saver, allow=ALLOW)  # ... streamtap reads
        got = await store.get("from-langgraph")
        assert got is not None and got.checkpoint["channel_values"]["messages"] == values
        assert got.pending_writes[0][2] == values

        await store.put(values, values, thread="from-streamtap")  # and the other way round
        store.saver.serde = JsonPlusSerializer()
        got = await store.get("from-streamtap")
        assert got is not None and got.checkpoint["channel_values"]["messages"] == values
        assert got.pending_writes[0][2] == values


# --- the serializer itself --------------------------------------------------------------------


def test_it_writes_exactly_what_langgraph_writes() -> None:
    values = rich_values()
    assert StrictSerializer(ALLOW).dumps_typed(values) == JsonPlusSerializer().dumps_typed(values)
    for special in (None, b"raw", bytearray(b"ba")):
        typed = StrictSerializer().dumps_typed(special)
        assert typed == JsonPlusSerializer().dumps_typed(special)
        assert StrictSerializer().loads_typed(typed) == special


def test_types_outside_the_allow_list_are_refused_even_when_harmless() -> None:
    typed = JsonPlusSerializer().dumps_typed([Point(1, 2)])
    with pytest.raises(UnsafeCheckpointError) as refused:
        StrictSerializer().loads_typed(typed)
    assert refused.value.type_name == f"{__name__}.Point"
    message = str(refused.value)
    assert "allow=" in message and "trust_checkpoints=True" in message
    assert StrictSerializer([Point]).loads_typed(typed) == [Point(1, 2)]
    assert StrictSerializer([(__name__, "Point")]).loads_typed(typed) == [Point(1, 2)]


def test_the_named_module_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"serde_canary_{uuid.uuid4().hex}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\ndef run(x): return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    typed = ("msgpack", ormsgpack.packb(_ext(E.EXT_CONSTRUCTOR_SINGLE_ARG, name, "run", 1)))
    with pytest.raises(UnsafeCheckpointError):
        StrictSerializer().loads_typed(typed)
    assert not marker.exists() and name not in sys.modules
    if LANGGRAPH_PERMISSIVE:  # LangGraph imports (and runs) whatever is named
        assert JsonPlusSerializer().loads_typed(typed) == 1 and marker.exists()
        sys.modules.pop(name, None)


def test_a_class_allowed_by_object_needs_no_importable_name() -> None:
    @dataclasses.dataclass
    class Local:
        v: int

    typed = StrictSerializer().dumps_typed(Local(1))
    assert StrictSerializer([Local]).loads_typed(typed) == Local(1)
    with pytest.raises(UnsafeCheckpointError):
        StrictSerializer().loads_typed(typed)


@pytest.mark.parametrize(
    ("typed", "what"),
    [
        (("pickle", pickle.dumps(1)), "'pickle'"),
        (("msgpack+aes", b"..."), "'msgpack+aes'"),
        (("msgpack", ormsgpack.packb(ormsgpack.Ext(42, ormsgpack.packb(1)))), "code 42"),
        (("msgpack", ormsgpack.packb(ormsgpack.Ext(0, ormsgpack.packb("x")))), "malformed"),
        (
            ("msgpack", ormsgpack.packb(_ext(E.EXT_CONSTRUCTOR_SINGLE_ARG, 1, 2, 3))),
            "malformed type reference",
        ),
        (
            (
                "msgpack",
                ormsgpack.packb(_ext(E.EXT_METHOD_SINGLE_ARG, "os", "getenv", "HOME", "x")),
            ),
            "a call of os.getenv.x",
        ),
        (
            ("msgpack", ormsgpack.packb(_ext(E.EXT_NUMPY_ARRAY, "<f8", [1], "C", b"\0" * 8))),
            "numpy.ndarray",
        ),
        (("json", b'{"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}'), "secret"),
        (("json", b'{"lc": 2, "type": "constructor", "id": "os.system"}'), "malformed"),
        (
            ("json", b'{"lc": 1, "type": "constructor", "id": ["langchain", "x", "Evil"]}'),
            "langchain.x.Evil",
        ),
    ],
)
def test_formats_and_shapes_it_cannot_vouch_for_are_refused(
    typed: tuple[str, bytes], what: str
) -> None:
    with pytest.raises(UnsafeCheckpointError, match=re.escape(what)):
        StrictSerializer().loads_typed(typed)


def test_numpy_arrays_revive_once_allowed() -> None:
    np = pytest.importorskip("numpy")
    typed = JsonPlusSerializer().dumps_typed(np.arange(3.0))
    assert list(StrictSerializer([np.ndarray]).loads_typed(typed)) == [0.0, 1.0, 2.0]
    assert np.ndarray in types_in_schemas(dict[str, np.ndarray])


def test_langgraph_delta_snapshots_and_datetimes_revive() -> None:
    value = _DeltaSnapshot([datetime(2024, 1, 1, tzinfo=UTC)])
    loaded = StrictSerializer().loads_typed(JsonPlusSerializer().dumps_typed(value))
    assert isinstance(loaded, _DeltaSnapshot) and loaded.value == value.value


def test_the_legacy_json_format_revives_allowed_types_only() -> None:
    legacy = {
        "m": {
            "lc": 1,
            "type": "constructor",
            "id": ["langchain", "schema", "messages", "HumanMessage"],
            "kwargs": {"content": "old", "id": "o1"},
        },
        "u": {"lc": 2, "type": "constructor", "id": ["uuid", "UUID"], "args": ["0" * 32]},
        "p": {
            "lc": 2,
            "type": "constructor",
            "id": [__name__, "Point"],
            "kwargs": {"x": 1, "y": 2},
        },
        "plain": {"lc": 3, "id": ["os", "system"]},
    }
    typed = ("json", json.dumps(legacy).encode())
    with pytest.raises(UnsafeCheckpointError, match="Point"):
        StrictSerializer().loads_typed(typed)
    out = StrictSerializer([Point]).loads_typed(typed)
    assert out["m"] == HumanMessage("old", id="o1")
    assert out["u"] == uuid.UUID(int=0) and out["p"] == Point(1, 2)
    assert out["plain"] == legacy["plain"]


def test_jinja2_templates_stay_refused_even_for_an_allowed_prompt_class() -> None:
    from langchain_core.prompts import PromptTemplate

    payload = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
        "kwargs": {"template": "{{ x }}", "input_variables": ["x"], "template_format": "jinja2"},
    }
    with pytest.raises(UnsafeCheckpointError, match=r"[Jj]inja2"):
        StrictSerializer([PromptTemplate]).loads_typed(("json", json.dumps(payload).encode()))


def test_the_default_allow_list() -> None:
    import langchain_core.messages as lc_messages

    for name in dir(lc_messages):
        obj = getattr(lc_messages, name)
        if isinstance(obj, type) and issubclass(obj, BaseMessage):
            assert (obj.__module__, obj.__name__) in DEFAULT_ALLOWED, name
    assert (Document.__module__, "Document") in DEFAULT_ALLOWED
    for name in ("Send", "Interrupt", "Command", "Overwrite"):
        assert ("langgraph.types", name) in DEFAULT_ALLOWED
    exported = {
        "Command",
        "GraphOutput",
        "Interrupt",
        "Overwrite",
        "PregelTask",
        "Send",
        "StateSnapshot",
    }
    assert {n for _, n in STREAMTAP_TYPES} == exported
    for module, name in STREAMTAP_TYPES:
        cls = getattr(st_types, name)
        assert (cls.__module__, cls.__name__) == (module, name)
    assert ("os", "system") not in DEFAULT_ALLOWED


def test_allowing_is_idempotent_and_keeps_earlier_entries() -> None:
    base = StrictSerializer([Point])
    assert base.allowing() is base and base.allowing(Point) is base
    assert base.allowing((__name__, "Point")) is base
    more = base.allowing(Profile, ("some.module", "Thing"))
    assert {(__name__, "Point"), (__name__, "Profile"), ("some.module", "Thing")} <= more.allowed
    assert more.allowing(("some.module", "Thing")) is more
    assert "some.module.Thing" in repr(more)
    with pytest.raises(TypeError, match="allow="):
        StrictSerializer(["os.system"])  # type: ignore[list-item]


def test_langgraph_types_revive_without_langgraph_runtime() -> None:
    import langgraph.types as lg

    stored = JsonPlusSerializer().dumps_typed(
        [lg.Send("n", 1), lg.Interrupt("q", id="i"), lg.Command(resume=1, goto=[lg.Send("m", 2)])]
    )
    code = (
        "import sys\n"
        "from streamtap.graph.checkpoint.serde import StrictSerializer\n"
        "from streamtap.graph.types import Command, Interrupt, Send\n"
        f"got = StrictSerializer().loads_typed(('msgpack', bytes.fromhex({stored[1].hex()!r})))\n"
        "assert got == [Send('n', 1), Interrupt('q', 'i'), Command(resume=1, goto=[Send('m', 2)])]"
        ", got\n"
        "assert 'langgraph.types' not in sys.modules\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    # where LangGraph runs, it gets its own classes back
    assert StrictSerializer().loads_typed(stored)[0] == lg.Send("n", 1)
    timed = JsonPlusSerializer().dumps_typed(lg.Send("n", 1, timeout=5.0))
    assert StrictSerializer().loads_typed(timed) == lg.Send("n", 1, timeout=5.0)


def test_it_imports_no_langgraph_runtime() -> None:
    # langgraph.warnings (a leaf of warning classes, importing nothing) is the base of
    # streamtap.graph.warnings' twins when langgraph is installed; nothing of the runtime
    code = (
        "import sys, streamtap.graph.checkpoint.serde; "
        "bad = sorted(m for m in sys.modules if m.startswith('langgraph.') "
        "and not m.startswith(('langgraph.checkpoint', 'langgraph.store')) "
        "and m != 'langgraph.warnings'); "
        "assert not bad, bad"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


# --- harden -------------------------------------------------------------------------------------


def test_harden_is_in_place_and_idempotent() -> None:
    saver = InMemorySaver()
    assert harden(saver) is saver
    serde = saver.serde
    assert isinstance(serde, StrictSerializer)
    harden(saver)
    assert saver.serde is serde
    harden(saver, allow=[Point])
    assert isinstance(saver.serde, StrictSerializer) and (__name__, "Point") in saver.serde.allowed


def test_harden_keeps_what_langgraph_adds_through_with_allowlist() -> None:
    saver = harden(InMemorySaver())
    clone = saver.with_allowlist({(__name__, "Point")})
    assert isinstance(clone.serde, StrictSerializer)
    assert (__name__, "Point") in clone.serde.allowed


def test_harden_carries_a_users_explicit_langgraph_allow_lists_but_not_pickle() -> None:
    serde = JsonPlusSerializer(
        pickle_fallback=True,
        allowed_msgpack_modules=[Point],
        allowed_json_modules=[("my", "mod", "Thing")],
    )
    saver = harden(InMemorySaver(serde=serde))
    assert isinstance(saver.serde, StrictSerializer)
    assert {(__name__, "Point"), ("my.mod", "Thing")} <= saver.serde.allowed
    with pytest.raises(UnsafeCheckpointError):
        saver.serde.loads_typed(("pickle", pickle.dumps(1)))


class _Xor:
    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return "xor", bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in ciphertext)


def test_harden_keeps_encryption_and_hardens_inside_it(tmp_path: Path) -> None:
    saver = harden(InMemorySaver(serde=EncryptedSerializer(_Xor())), allow=[Point])
    serde = saver.serde
    assert isinstance(serde, EncryptedSerializer) and isinstance(serde.cipher, _Xor)
    assert isinstance(serde.serde, StrictSerializer)
    assert harden(saver, allow=[Point]).serde is serde
    typed = serde.dumps_typed([Point(1, 2)])
    assert typed[0] == "msgpack+xor" and serde.loads_typed(typed) == [Point(1, 2)]

    marker = tmp_path / "pwned"
    evil = ormsgpack.packb(_ext(E.EXT_CONSTRUCTOR_SINGLE_ARG, "os", "system", _sh(marker)))
    with pytest.raises(UnsafeCheckpointError):
        serde.loads_typed(("msgpack+xor", _Xor().encrypt(evil)[1]))
    with pytest.raises(UnsafeCheckpointError):
        serde.loads_typed(("pickle+xor", _Xor().encrypt(pickle.dumps(_Touch(marker)))[1]))
    with pytest.raises(UnsafeCheckpointError):  # a row stored unencrypted skips the cipher
        serde.loads_typed(("pickle", pickle.dumps(_Touch(marker))))
    assert not marker.exists()


def test_harden_refuses_serializers_it_cannot_vouch_for() -> None:
    class Custom(JsonPlusSerializer):
        pass

    with pytest.raises(TypeError, match="trust_checkpoints=True"):
        harden(InMemorySaver(serde=Custom()))
    with pytest.raises(TypeError, match="serde"):
        harden(object())


# --- types_in_schemas ---------------------------------------------------------------------------

UserId = NewType("UserId", str)


class Tree(BaseModel):
    label: str
    children: list[Tree] = []
    kind: Mood = Mood.CALM


class Meta(TypedDict, total=False):
    pair: Pair
    secret: SecretStr


class Everything(TypedDict):
    messages: Annotated[list[AnyMessage], "reducer"]
    tree: Tree | None
    points: dict[str, list[Point]]
    either: typing.Union[Point, Profile, int]  # noqa: UP007 - the old spelling is what is tested
    optional: typing.Optional[Mood]  # noqa: UP045
    mode: Literal["a", "b"]
    meta: Meta
    user: UserId
    later: Unresolvable  # type: ignore[name-defined]  # noqa: F821


@dataclasses.dataclass
class Context:
    when: datetime
    cache: ClassVar[Point]
    pair: Pair | None = None


def test_types_in_schemas_walks_every_shape() -> None:
    found = types_in_schemas(Everything, None, Context, Profile)
    assert found >= {Tree, Mood, Point, Profile, Pair, SecretStr, Context}
    assert not {t for t in found if t.__module__ in ("builtins", "typing")}
    assert all(not (isinstance(t, type) and issubclass(t, dict)) for t in found)  # no TypedDicts
    in_state = types_in_schemas(State)
    assert {Profile, Mood, Point} <= in_state  # and AnyMessage's classes, allowed anyway
    assert all(issubclass(t, BaseMessage) for t in in_state - {Profile, Mood, Point})


def test_types_in_schemas_skips_what_needs_no_reviving() -> None:
    class Plain(TypedDict):
        n: int
        tags: list[str]
        mode: Literal["x"]

    assert types_in_schemas(Plain, dict, int, Any, None) == set()


def test_types_in_schemas_survives_cycles() -> None:
    @dataclasses.dataclass
    class Node:
        nxt: Node | None

    Node.__annotations__["nxt"] = Node | None  # a cycle get_type_hints cannot resolve by name
    assert types_in_schemas(Node) == {Node}
    assert Tree in types_in_schemas(Tree)
