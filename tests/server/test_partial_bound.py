"""``messages`` mode past a size bound: partials coalesced, the newest state never lost.

Under ``partial_bound_bytes`` every chunk yields the Platform's ``messages/partial`` (the
whole message so far), byte for byte. Past it a message gets at most one partial per
``partial_interval`` of the (injected) clock; its newest state is sent for the chunk
marked ``chunk_position="last"``, before any other event of the run, and when the run
ends (success, error, cancel). Sizes are asserted as ratios of bytes, never as times.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Iterator
from functools import reduce
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, message_chunk_to_message
from langgraph_sdk import get_client

from streamtap.server import create_app
from streamtap.server._serde import dumps, loads
from streamtap.server._shaper import PARTIAL_BOUND_BYTES, EventShaper
from tests.server._support import LiveServer, ScriptedChat, chat_graph
from tests.server.conftest import HUMAN
from tests.server.test_event_shaper import META, STREAMS, _reference
from tests.server.test_sdk import _strip_ids


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _text(n: int, *, msg_id: str = "a", last: bool = True) -> list[AIMessageChunk]:
    chunks = [AIMessageChunk(content=f"tok{i:04d} ", id=msg_id) for i in range(n)]
    if last:
        chunks.append(AIMessageChunk(content="", id=msg_id, chunk_position="last"))
    return chunks


def _partial_of(chunks: list[AIMessageChunk]) -> bytes:
    """The Platform's partial for the sum of ``chunks`` (``reduce(add)``: the definition)."""
    return dumps([message_chunk_to_message(reduce(operator.add, chunks))])


def _feed(
    shaper: EventShaper,
    chunks: list[AIMessageChunk],
    clock: FakeClock | None = None,
    step: float = 0.0,
) -> Iterator[tuple[int, str, bytes]]:
    """(chunk index, event, data) for every event the chunks yield."""
    for i, chunk in enumerate(chunks):
        if clock is not None:
            clock.now += step
        for name, data in shaper.events((), "messages", (chunk, META)):
            yield i, name, data


# ---------------------------------------------------------------- under the bound


@pytest.mark.parametrize("name", list(STREAMS))
def test_under_the_bound_every_chunk_yields_the_platforms_partial(name: str) -> None:
    stream = STREAMS[name]
    shaper = EventShaper(["messages"])  # the default bound
    events = [e for msg in stream for e in shaper.events((), "messages", (msg, META))]
    assert events == _reference(stream)
    assert list(shaper.flush()) == []  # nothing held back


def test_a_message_under_the_bound_is_never_coalesced_whatever_the_clock() -> None:
    chunks = _text(300)  # ~3 KB at its end
    clock = FakeClock()  # frozen: a coalesced partial would never be due
    shaper = EventShaper(["messages"], clock=clock)
    got = [(name, data) for _, name, data in _feed(shaper, chunks)]
    assert got == _reference(chunks)  # type: ignore[arg-type]
    assert max(len(d) for _, d in got) < PARTIAL_BOUND_BYTES


# ---------------------------------------------------------------- past the bound


def test_past_the_bound_partials_are_coalesced_by_the_interval() -> None:
    chunks = _text(60, last=False)
    clock = FakeClock()
    shaper = EventShaper(["messages"], partial_bound=300, partial_interval=0.1, clock=clock)
    events = list(_feed(shaper, chunks, clock, step=0.03))  # one chunk every 30 ms
    sizes = [len(_partial_of(chunks[: i + 1])) for i in range(len(chunks))]
    crossing = next(i for i, size in enumerate(sizes) if size >= 300)
    # exact: metadata, a partial per chunk up to the one that reached the bound, then
    # the chunk that finds 0.1 s gone since the last partial went (4 chunks later, 0.12 s)
    expected_at = [*range(crossing + 1), *range(crossing + 4, len(chunks), 4)]
    assert events[0][:2] == (0, "messages/metadata")
    assert [(i, name) for i, name, _ in events[1:]] == [
        (i, "messages/partial") for i in expected_at
    ]
    for i, _, data in events[1:]:
        assert data == _partial_of(chunks[: i + 1])  # each sent partial is the whole so far
    held = list(shaper.flush())  # the chunks after the last one sent
    assert held == [("messages/partial", _partial_of(chunks))]
    assert list(shaper.flush()) == []


def test_the_last_chunk_sends_the_whole_message_at_once() -> None:
    chunks = _text(80)  # ends with chunk_position="last"
    clock = FakeClock()  # frozen: only the last chunk (or a flush) sends past the bound
    shaper = EventShaper(
        ["messages-tuple", "messages"], partial_bound=300, partial_interval=0.1, clock=clock
    )
    events = list(_feed(shaper, chunks))
    partials = [(i, data) for i, name, data in events if name == "messages/partial"]
    assert partials[-1] == (len(chunks) - 1, _partial_of(chunks))
    crossing = next(i for i, d in partials if len(d) >= 300)
    assert [i for i, _ in partials] == [*range(crossing + 1), len(chunks) - 1]
    # the client's last partial is what the messages-tuple chunks sum to
    tuples = [loads(data)[0] for _, name, data in events if name == "messages"]
    assert len(tuples) == len(chunks)  # tuples are never coalesced
    final = loads(partials[-1][1])[0]
    assert final["content"] == "".join(t["content"] for t in tuples)
    assert final == loads(_partial_of(chunks))[0]
    assert list(shaper.flush()) == []


@pytest.mark.parametrize("mode", ["values", "updates", "custom"])
def test_a_held_back_partial_goes_before_the_next_event_of_another_mode(mode: str) -> None:
    chunks = _text(50, last=False)
    clock = FakeClock()
    shaper = EventShaper(["messages", mode], partial_bound=300, clock=clock)
    events = [(name, data) for _, name, data in _feed(shaper, chunks)]
    assert _partial_of(chunks) not in [data for _, data in events]  # held back
    after = list(shaper.events((), mode, {"k": 1}))
    assert after == [("messages/partial", _partial_of(chunks)), (mode, dumps({"k": 1}))]
    assert list(shaper.events((), mode, {"k": 2})) == [(mode, dumps({"k": 2}))]  # once only


def test_a_held_back_partial_goes_before_another_messages_events() -> None:
    first = _text(50, msg_id="a", last=False)
    second = AIMessageChunk(content="b", id="b")
    shaper = EventShaper(["messages"], partial_bound=300, clock=FakeClock())
    list(_feed(shaper, first))
    names = [name for name, _ in shaper.events((), "messages", (second, META))]
    assert names == ["messages/partial", "messages/metadata", "messages/partial"]
    # and an events-mode event other than a model token flushes too; a token does not
    list(_feed(shaper, [AIMessageChunk(content="x" * 400, id="b")] * 2))
    token = {"event": "on_chat_model_stream", "data": {}}
    assert [n for n, _ in shaper.raw("events", token)] == ["events"]
    other = {"event": "on_chain_end", "data": {}}
    assert [n for n, _ in shaper.raw("events", other)] == ["messages/partial", "events"]


def test_a_complete_message_replaces_what_was_held_back() -> None:
    chunks = _text(50, last=False)
    shaper = EventShaper(["messages"], partial_bound=300, clock=FakeClock())
    list(_feed(shaper, chunks))
    done = message_chunk_to_message(reduce(operator.add, chunks))
    out = list(shaper.events((), "messages", (done, META)))
    assert out == [("messages/complete", dumps([done]))]
    assert list(shaper.flush()) == []


def test_a_5000_token_answer_sends_far_less_than_the_quadratic_size() -> None:
    chunks = _text(5_000)
    platform = EventShaper(["messages"], partial_bound=None)
    quadratic = sum(len(d) for _, _, d in _feed(platform, chunks))
    clock = FakeClock()
    bounded = EventShaper(["messages"], clock=clock)  # the defaults: 16 KiB, 0.1 s
    events = list(_feed(bounded, chunks, clock, step=0.002))  # a fast model: 500 tokens/s
    sent = sum(len(d) for _, _, d in events)
    assert events[-1][1:] == ("messages/partial", _partial_of(chunks))
    assert sent < quadratic * 0.2
    # past the bound: one partial per 0.1 s of the stream at most, plus the last
    past = [i for i, name, d in events if name == "messages/partial" and len(d) > 17_000]
    assert len(past) <= 5_000 * 0.002 / 0.1 + 2


# ---------------------------------------------------------------- create_app


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"partial_bound_bytes": 0}, "partial_bound_bytes must be a whole number"),
        ({"partial_bound_bytes": 1.5}, "or None"),
        ({"partial_bound_bytes": True}, "partial_bound_bytes"),
        ({"partial_interval": -1}, "partial_interval must be a finite number"),
        ({"partial_interval": float("inf")}, "0 sends every partial"),
        ({"partial_interval": "0.1"}, "partial_interval"),
    ],
)
def test_create_app_refuses_bad_bounds_saying_what_to_pass(
    kwargs: dict[str, Any], message: str
) -> None:
    graph = chat_graph(ScriptedChat())
    with pytest.raises(ValueError, match=message):
        create_app({"agent": graph}, **kwargs)


def test_create_app_passes_the_bound_to_the_runs() -> None:
    graph = chat_graph(ScriptedChat())
    manager = create_app({"agent": graph}, partial_bound_bytes=None).state.manager
    assert manager.partial_bound_bytes is None
    manager = create_app(
        {"agent": graph}, partial_bound_bytes=4096, partial_interval=0
    ).state.manager
    assert (manager.partial_bound_bytes, manager.partial_interval) == (4096, 0)
    assert create_app({"agent": graph}).state.manager.partial_bound_bytes == PARTIAL_BOUND_BYTES


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``streamtap serve`` up to ``uvicorn.run``: the app it would serve."""
    import sys
    import types

    import uvicorn

    mod = types.ModuleType("partial_bound_graphs_for_test")
    mod.graph = chat_graph(ScriptedChat())  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    got: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: got.update(app=app))
    # not this test process's heap: record that serve freezes its own before uvicorn.run
    monkeypatch.setattr(
        "streamtap.cli.serve.freeze_startup_heap", lambda: got.update(frozen="app" not in got)
    )
    yield got
    del sys.modules[mod.__name__]


def test_serve_sets_the_partial_bound_and_the_log_bounds(served: dict[str, Any]) -> None:
    from streamtap.cli import build_parser
    from streamtap.server import MemoryBackend

    def serve(*flags: str) -> Any:
        args = build_parser().parse_args(["serve", "partial_bound_graphs_for_test:graph", *flags])
        assert args.func(args) == 0
        return served["app"].state.manager

    manager = serve()
    assert served["frozen"] is True  # the startup heap frozen before uvicorn.run
    assert (manager.partial_bound_bytes, manager.partial_interval) == (PARTIAL_BOUND_BYTES, 0.1)
    assert isinstance(manager.backend, MemoryBackend)
    assert manager.backend.max_bytes_per_run == 32 * 2**20
    manager = serve(
        "--partial-bound", "0", "--partial-interval", "0.5",
        "--run-log-bytes", "1000000", "--log-bytes", "9000000",
    )  # fmt: skip
    assert (manager.partial_bound_bytes, manager.partial_interval) == (None, 0.5)
    assert (manager.backend.max_bytes_per_run, manager.backend.max_total_bytes) == (
        1_000_000,
        9_000_000,
    )
    with pytest.raises(SystemExit, match="partial_interval must be a finite number"):
        serve("--partial-interval", "-1")
    with pytest.raises(SystemExit, match="the limits must be >= 1"):
        serve("--run-log-bytes", "0")
    from streamtap.server.postgres import PostgresBackend
    from streamtap.server.redis import RedisBackend

    redis = "redis://127.0.0.1:6399/0"
    assert isinstance(serve("--redis-url", redis).backend, RedisBackend)
    backend = serve("--redis-url", redis, "--database-url", "postgresql://u@db/app").backend
    assert isinstance(backend, PostgresBackend)
    assert (backend.database_url, backend.events.url) == ("postgresql://u@db/app", redis)
    with pytest.raises(SystemExit, match="add --redis-url"):
        serve("--database-url", "postgresql://u@db/app")
    with pytest.raises(SystemExit, match="bound the in-memory backend"):
        serve("--redis-url", "redis://127.0.0.1:1/0", "--log-bytes", "1000")


# ---------------------------------------------------------------- through the server


def _server(model: ScriptedChat, *, frozen: bool = True, **kwargs: Any) -> LiveServer:
    app = create_app({"agent": chat_graph(model)}, disconnect_grace=0.2, **kwargs)
    if frozen:
        app.state.manager.clock = FakeClock()
    return LiveServer(app)


async def _stream(url: str, modes: list[str], **kwargs: Any) -> list[tuple[str, Any]]:
    client = get_client(url=url, api_key=None)
    return [
        (part.event, part.data)
        async for part in client.runs.stream(
            None, "agent", input=HUMAN, stream_mode=modes, **kwargs
        )
    ]


def _ids_out(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Run and message ids differ between two runs; the rest must match."""
    return [
        (name, _strip_ids(list(data.values()) if name == "messages/metadata" else data))
        for name, data in events
    ]


async def test_sdk_short_answer_is_the_platforms_stream() -> None:
    tokens = [f"t{i} " for i in range(40)]
    runs = []
    for bound in (PARTIAL_BOUND_BYTES, None):
        model = ScriptedChat(tokens=tokens, message_id="m1")
        with _server(model, partial_bound_bytes=bound) as server:
            runs.append(await _stream(server.url, ["messages", "updates"]))
    bounded, platform = runs
    assert [name for name, _ in bounded].count("messages/partial") == len(tokens) + 1
    assert _ids_out(bounded) == _ids_out(platform)


async def test_sdk_long_answer_partials_are_coalesced_and_end_whole() -> None:
    """The model's closing chunk (``chunk_position="last"``) sends the whole message."""
    tokens = [f"tok{i:04d} " for i in range(400)]
    runs = []
    for bound in (500, None):
        model = ScriptedChat(tokens=tokens)
        with _server(model, partial_bound_bytes=bound) as server:
            runs.append(await _stream(server.url, ["messages", "updates"]))
    bounded, platform = runs
    partials = [data for name, data in bounded if name == "messages/partial"]
    every = [data for name, data in platform if name == "messages/partial"]
    assert len(every) == len(tokens) + 1
    crossing = next(i for i, p in enumerate(every) if len(dumps(p)) >= 500)
    # up to the bound the Platform's partials, then (frozen clock) only the last chunk's
    assert _strip_ids(partials) == _strip_ids([*every[: crossing + 1], every[-1]])
    final = partials[-1][0]
    answer = next(data for name, data in bounded if name == "updates")["agent"]["messages"][0]
    assert final["content"] == "".join(tokens) == answer["content"]
    assert final["id"] == answer["id"]
    names = [name for name, _ in bounded]
    assert names[-3:] == ["messages/partial", "updates", "end"]
    assert len(dumps(bounded)) < len(dumps(platform)) * 0.2


async def test_sdk_a_held_back_partial_goes_before_the_next_messages_metadata() -> None:
    """A model whose chunks carry their own id ends with a closing chunk of another id
    (langchain-core's): that message's metadata flushes the first one's newest state."""
    tokens = [f"tok{i:04d} " for i in range(300)]
    with _server(ScriptedChat(tokens=tokens, message_id="m1"), partial_bound_bytes=500) as server:
        events = await _stream(server.url, ["messages", "updates"])
    names = [name for name, _ in events]
    assert names[-5:] == [
        "messages/partial",
        "messages/metadata",
        "messages/partial",
        "updates",
        "end",
    ]
    flushed = events[-5][1][0]
    assert flushed["id"] == "m1" and flushed["content"] == "".join(tokens)


async def test_an_error_sends_the_held_back_partial_before_the_error() -> None:
    tokens = [f"tok{i:04d} " for i in range(100)]
    model = ScriptedChat(tokens=tokens, fail_after=60, message_id="m1")
    with _server(model, partial_bound_bytes=400) as server:
        events = await _stream(server.url, ["messages-tuple", "messages"])
    names = [name for name, _ in events]
    assert names[-4:] == ["messages", "messages/partial", "error", "end"]
    chunks = [data[0]["content"] for name, data in events if name == "messages"]
    assert events[-3][1][0]["content"] == "".join(chunks) == "".join(tokens[:60])
    _one_past_the_bound_then_the_last(events, 400)


async def test_a_cancel_sends_the_held_back_partial_before_the_end() -> None:
    model = ScriptedChat(tokens=[f"tok{i:04d} " for i in range(2_000)], delay=0.005)
    with _server(model, partial_bound_bytes=400) as server:
        client = get_client(url=server.url, api_key=None)
        created: list[Any] = []
        events: list[tuple[str, Any]] = []
        cancels: list[asyncio.Task[None]] = []
        stream = client.runs.stream(
            None,
            "agent",
            input=HUMAN,
            stream_mode=["messages-tuple", "messages"],
            on_run_created=created.append,
        )
        async for part in stream:
            events.append((part.event, part.data))
            if [n for n, _ in events].count("messages") == 80:
                meta = created[0]
                cancel = client.runs.cancel(meta["thread_id"], meta["run_id"])
                cancels.append(asyncio.ensure_future(cancel))
        await asyncio.gather(*cancels)
    assert events[-1] == ("end", {"run_id": created[0]["run_id"], "status": "interrupted"})
    assert events[-2][0] == "messages/partial"
    chunks = [data[0]["content"] for name, data in events if name == "messages"]
    assert 80 <= len(chunks) < 2_000
    assert events[-2][1][0]["content"] == "".join(chunks)
    _one_past_the_bound_then_the_last(events, 400)


def _one_past_the_bound_then_the_last(events: list[tuple[str, Any]], bound: int) -> None:
    """Frozen clock: past the bound only the partial that reached it and the flushed one."""
    sizes = [len(dumps(data)) for name, data in events if name == "messages/partial"]
    assert len([s for s in sizes if s >= bound]) == 2
    assert sizes == sorted(sizes) and sizes[-2] < sizes[-1]


def test_freezing_the_startup_heap_takes_what_is_alive_out_of_collections() -> None:
    import gc

    from streamtap.cli.serve import freeze_startup_heap

    before = gc.get_freeze_count()  # mypy's own build, run by a test, freezes too
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > before
        assert len(gc.get_objects(generation=2)) < 1000  # a full collection walks little
    finally:
        gc.unfreeze()
