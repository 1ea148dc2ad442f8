"""coalesce / redact / on_chunk: exact outputs, properties over any chunking, and where they apply."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk

from streamtap.middleware import coalesce, compose, on_chunk, redact, stream_tokens, with_transforms
from tests import _fixtures as F
from tests.middleware.conftest import IMPLS, INPUT, impl, model, one_node, raw_node
from tests.providers._contract import total


def text_chunks(tokens: list[str], message_id: str = "m") -> list[AIMessageChunk]:
    chunks = [AIMessageChunk(content=t, id=message_id) for t in tokens]
    usage = {"input_tokens": 1, "output_tokens": len(tokens), "total_tokens": 1 + len(tokens)}
    chunks.append(
        AIMessageChunk(
            content="",
            id=message_id,
            chunk_position="last",
            usage_metadata=usage,  # type: ignore[arg-type]
            response_metadata={"finish_reason": "stop"},
        )
    )
    return chunks


def text(chunks: list[Any]) -> str:
    return "".join(c.content for c in chunks if isinstance(c.content, str))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- coalesce


def test_coalesce_merges_after_the_first_token_and_keeps_the_last_chunk() -> None:
    chunks = text_chunks(["He", "l", "l", "o", " w", "or", "ld"])
    out = list(coalesce(max_chars=4, max_delay_ms=None).stream(chunks))
    # Chunks are merged, never split: a run stops before it would pass max_chars.
    assert [c.content for c in out] == ["He", "llo", " wor", "ld", ""]
    assert all(c.id == "m" for c in out)
    assert out[-1] is chunks[-1]  # the last chunk (usage, finish_reason) passes untouched
    assert total(out) == total(chunks)


def test_coalesce_never_merges_across_messages_kinds_or_tool_indexes() -> None:
    def tool(index: int, args: str, **kw: Any) -> AIMessageChunk:
        return AIMessageChunk(
            content="",
            id="m",
            tool_call_chunks=[
                {"name": kw.get("name"), "args": args, "id": kw.get("id"), "index": index}
            ],
        )

    chunks = [
        AIMessageChunk(content="a", id="m"),
        AIMessageChunk(content="b", id="m"),
        AIMessageChunk(content="x", id="other"),  # another message interleaved
        AIMessageChunk(content="c", id="m"),
        AIMessageChunk(content=[{"type": "reasoning", "reasoning": "r1", "index": 0}], id="m"),
        AIMessageChunk(content=[{"type": "reasoning", "reasoning": "r2", "index": 0}], id="m"),
        tool(0, "", name="f", id="call_0"),
        tool(0, '{"a"'),
        tool(0, ": 1}"),
        tool(1, "", name="g", id="call_1"),  # a new call starts: never merged into call 0
        tool(1, "{}"),
        AIMessageChunk(content="", id="m", chunk_position="last"),
    ]
    out = list(coalesce(max_delay_ms=None, max_chars=1000).stream(chunks))
    assert total(out) == total(chunks)
    assert len(out) <= len(chunks)
    shapes = [(c.id, c.content, [(t["index"], t["args"]) for t in c.tool_call_chunks]) for c in out]
    assert shapes == [
        ("m", "a", []),
        ("m", "b", []),  # held, then flushed by the other message's chunk
        ("other", "x", []),
        ("m", "c", []),
        ("m", [{"type": "reasoning", "reasoning": "r1r2", "index": 0}], []),
        ("m", "", [(0, '{"a": 1}')]),
        ("m", "", [(1, "{}")]),
        ("m", "", []),
    ]
    tool_calls = total(out).tool_calls
    assert [(tc["name"], tc["args"]) for tc in tool_calls] == [("f", {"a": 1}), ("g", {})]


def test_coalesce_exact_boundaries() -> None:
    chunks = [
        AIMessageChunk(content="a", id="m"),
        AIMessageChunk(content="b", id="m"),
        AIMessageChunk(content="c", id="m"),
        AIMessageChunk(content="x", id="other"),
        AIMessageChunk(content="d", id="m"),
        AIMessageChunk(content="e", id="m"),
        AIMessageChunk(content="", id="m", chunk_position="last"),
    ]
    out = list(coalesce(max_delay_ms=None, max_chars=1000).stream(chunks))
    assert [(c.id, c.content) for c in out] == [
        ("m", "a"),  # first token: at once
        ("m", "bc"),  # held run, flushed when another message's chunk arrives
        ("other", "x"),
        ("m", "de"),
        ("m", ""),
    ]


def test_coalesce_delay_is_checked_at_arrivals_for_sync_streams() -> None:
    clock = Clock()
    emitted: list[tuple[float, str]] = []

    def source():
        for t, token in [(0.0, "a"), (0.01, "b"), (0.02, "c"), (0.2, "d"), (0.21, "e")]:
            clock.now = t
            yield AIMessageChunk(content=token, id="m")
        clock.now = 0.3
        yield AIMessageChunk(content="", id="m", chunk_position="last")

    for chunk in coalesce(max_delay_ms=50, clock=clock).stream(source()):
        emitted.append((clock.now, chunk.content))
    # "b","c" held from 0.01; at 0.2 (>= 0.06) they go out together with "d".
    assert emitted == [(0.0, "a"), (0.2, "bcd"), (0.3, "e"), (0.3, "")]


async def test_coalesce_async_timer_flushes_while_the_source_is_silent() -> None:
    resume = asyncio.Event()

    async def source():
        yield AIMessageChunk(content="a", id="m")
        yield AIMessageChunk(content="b", id="m")
        await resume.wait()  # the model pauses (e.g. thinking)
        yield AIMessageChunk(content="c", id="m")
        yield AIMessageChunk(content="", id="m", chunk_position="last")

    out = coalesce(max_delay_ms=20).astream(source())
    assert (await anext(out)).content == "a"
    held = await asyncio.wait_for(anext(out), timeout=5)  # generous: only the timer can end it
    assert held.content == "b" and not resume.is_set()
    resume.set()
    assert [c.content async for c in out] == ["c", ""]


async def test_coalesce_async_closing_early_closes_the_source() -> None:
    closed = asyncio.Event()

    async def source():
        try:
            for t in ["a", "b", "c"]:
                yield AIMessageChunk(content=t, id="m")
                await asyncio.sleep(0)
            await asyncio.Event().wait()
        finally:
            closed.set()

    out = coalesce(max_delay_ms=10).astream(source())
    assert (await anext(out)).content == "a"
    await out.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()


async def test_coalesce_async_propagates_source_errors_after_flushing() -> None:
    async def source():
        yield AIMessageChunk(content="a", id="m")
        yield AIMessageChunk(content="b", id="m")
        raise RuntimeError("boom")

    got: list[str] = []
    with pytest.raises(RuntimeError, match="boom"):
        async for chunk in coalesce(max_delay_ms=1000).astream(source()):
            got.append(chunk.content)
    assert got == ["a", "b"]


tokens_st = st.lists(st.text(alphabet="ab c\n", min_size=0, max_size=6), min_size=1, max_size=30)
gaps_st = st.lists(st.floats(min_value=0, max_value=0.1), min_size=31, max_size=31)


@settings(max_examples=150, deadline=None)
@given(
    tokens=tokens_st,
    gaps=gaps_st,
    max_chars=st.one_of(st.none(), st.integers(1, 12)),
    delay_ms=st.one_of(st.none(), st.integers(0, 80)),
)
def test_coalesce_properties(
    tokens: list[str], gaps: list[float], max_chars: int | None, delay_ms: int | None
) -> None:
    if max_chars is None and delay_ms is None:
        delay_ms = 30
    clock = Clock()
    chunks = text_chunks(tokens)
    arrivals: list[float] = []

    def source():
        for chunk, gap in zip(chunks, gaps, strict=False):
            clock.now += gap
            arrivals.append(clock.now)
            yield chunk

    out: list[tuple[float, AIMessageChunk]] = []
    for chunk in coalesce(max_chars=max_chars, max_delay_ms=delay_ms, clock=clock).stream(source()):
        out.append((clock.now, chunk))
    emitted = [c for _, c in out]
    assert text(emitted) == "".join(tokens)
    assert len(emitted) <= len(chunks)
    assert emitted[-1] is chunks[-1]
    assert total(emitted) == total(chunks)
    # Which output carried each input character, and when.
    owner = [i for i, t in enumerate(tokens) for _ in t]
    when: dict[int, float] = {}
    pos = 0
    for at, chunk in out:
        for i in owner[pos : pos + len(chunk.content)]:
            when.setdefault(i, at)
        pos += len(chunk.content)
    first = next((i for i, t in enumerate(tokens) if t), None)
    if first is not None:
        assert when[first] == arrivals[first]  # the first token is never delayed
    if delay_ms is not None:
        bound = delay_ms / 1000
        for i, at in when.items():
            later = [a for a in arrivals[i + 1 :] if a >= arrivals[i] + bound]
            assert at <= (later[0] if later else arrivals[-1]), (i, at, arrivals)


@settings(max_examples=40, deadline=None)
@given(tokens=tokens_st, max_chars=st.integers(1, 10))
def test_coalesce_async_same_output_as_sync(tokens: list[str], max_chars: int) -> None:
    chunks = text_chunks(tokens)
    sync = [c.content for c in coalesce(max_chars=max_chars, max_delay_ms=None).stream(chunks)]

    async def run() -> list[Any]:
        async def source():
            for c in chunks:
                yield c

        transform = coalesce(max_chars=max_chars, max_delay_ms=None)
        return [c.content async for c in transform.astream(source())]

    assert asyncio.run(run()) == sync


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_chars": None, "max_delay_ms": None}, "needs"),
        ({"max_chars": 0}, "positive"),
        ({"max_delay_ms": -1}, ">= 0"),
    ],
)
def test_coalesce_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        coalesce(**kwargs)


# --------------------------------------------------------------------------- redact

KEY = r"sk-[a-z0-9]{4,}"


def test_redact_masks_a_match_spanning_chunks_and_holds_only_its_start() -> None:
    chunks = text_chunks(["my key is s", "k-ab", "cd01", " and more", " text"])
    out = list(redact(KEY).stream(chunks))
    assert [c.content for c in out] == ["my key is ", "", "", "[REDACTED] and more", " text", ""]
    assert [c.id for c in out] == ["m"] * 6
    assert out[-1].usage_metadata == chunks[-1].usage_metadata
    assert out[-1].chunk_position == "last"


def test_redact_passes_text_through_when_nothing_could_match() -> None:
    chunks = text_chunks(["hello ", "world ", "and ", "more"])
    out = list(redact(KEY).stream(chunks))
    assert [c.content for c in out] == ["hello ", "world ", "and ", "more", ""]
    assert all(a is b for a, b in zip(out, chunks, strict=True))  # untouched objects


def test_redact_greedy_match_waits_for_its_end_and_flushes_before_the_last_chunk() -> None:
    chunks = text_chunks(["id 12", "34", "56"])
    out = list(redact(r"\d+", "#").stream(chunks))
    assert text(out) == "id #"
    assert [c.content for c in out][-2:] == ["#", ""]  # flushed before the last chunk
    assert out[-1].chunk_position == "last"


def test_redact_flushes_at_the_end_of_a_stream_without_a_last_chunk() -> None:
    chunks = [AIMessageChunk(content=t, id="m") for t in ["x sk-ab", "cd"]]
    assert text(list(redact(KEY).stream(chunks))) == "x [REDACTED]"


def test_redact_tool_arguments_and_reasoning() -> None:
    chunks = [
        AIMessageChunk(
            content=[{"type": "reasoning", "reasoning": "use sk-ab", "index": 0}], id="m"
        ),
        AIMessageChunk(content=[{"type": "reasoning", "reasoning": "cd now", "index": 0}], id="m"),
        AIMessageChunk(
            content="",
            id="m",
            tool_call_chunks=[{"name": "f", "args": '{"k": "sk-1', "id": "c0", "index": 0}],
        ),
        AIMessageChunk(
            content="",
            id="m",
            tool_call_chunks=[{"name": None, "args": '234"}', "id": None, "index": 0}],
        ),
        AIMessageChunk(content="", id="m", chunk_position="last"),
    ]
    out = list(redact(KEY).stream(chunks))
    message = total(out)
    assert message.content == [{"type": "reasoning", "reasoning": "use [REDACTED] now", "index": 0}]
    assert message.tool_calls == [
        {"name": "f", "args": {"k": "[REDACTED]"}, "id": "c0", "type": "tool_call"}
    ]


def test_redact_whole_messages_and_replacement_function() -> None:
    out = list(
        redact(re.compile("SECRET", re.IGNORECASE), lambda m: "*" * len(m[0])).stream(
            [AIMessage("a secret b", id="x")]
        )
    )
    assert out[0].content == "a ****** b" and out[0].id == "x"


@pytest.mark.parametrize(
    ("pattern", "error", "match"),
    [
        ("a*", ValueError, "empty string"),
        ("(", ValueError, "not a valid regex"),
        (3, TypeError, "regex"),
    ],
)
def test_redact_validation(pattern: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        redact(pattern)


def test_redact_span_function_needs_a_window() -> None:
    with pytest.raises(ValueError, match="window"):
        redact(lambda s: [])


PATTERNS = [KEY, r"\d{3}-\d{4}", r"secret", r"[a-z]+@[a-z]+\.com", r"\d+"]
ALPHABET = "sk-ab01234 .@cometr"


def _cuts(whole: str, cuts: list[int]) -> list[str]:
    points = sorted({c for c in cuts if 0 < c < len(whole)})
    return [whole[a:b] for a, b in zip([0, *points], [*points, len(whole)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(
    whole=st.text(alphabet=ALPHABET, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=20),
    pattern=st.sampled_from(PATTERNS),
    last=st.booleans(),
)
def test_redact_any_chunking_equals_the_whole_text_redacted(
    whole: str, cuts: list[int], pattern: str, last: bool
) -> None:
    pieces = _cuts(whole, cuts)
    chunks = text_chunks(pieces) if last else [AIMessageChunk(content=p, id="m") for p in pieces]
    out = list(redact(pattern).stream(chunks))
    assert text(out) == regex.sub(pattern, "[REDACTED]", whole)
    assert {c.id for c in out} <= {"m"}


@settings(max_examples=150, deadline=None)
@given(whole=st.text(alphabet="xy ab", max_size=50), cuts=st.lists(st.integers(0, 50), max_size=15))
def test_redact_span_function_any_chunking(whole: str, cuts: list[int]) -> None:
    def find(s: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer("ab", s)]

    out = list(redact(find, "#", window=2).stream(text_chunks(_cuts(whole, cuts))))
    assert text(out) == whole.replace("ab", "#")


# --------------------------------------------------------------------------- composition & hooks


def test_on_chunk_and_composition_order() -> None:
    seen: list[str] = []
    transform = (
        redact(KEY)
        | coalesce(max_chars=100, max_delay_ms=None)
        | on_chunk(lambda c: seen.append(c.content))
    )
    chunks = text_chunks(["key s", "k-ab", "cd01", " ok"])
    out = list(transform.stream(chunks))
    assert text(out) == "key [REDACTED] ok"
    assert seen == [c.content for c in out]
    assert compose(redact(KEY), on_chunk(print)) is not None
    with pytest.raises(TypeError, match="transforms"):
        compose(redact(KEY), "nope")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- where they apply


@pytest.mark.parametrize("impl_name", IMPLS)
def test_on_messages_output_keeps_metadata_and_shapes(router, impl_name: str) -> None:
    g = impl(impl_name)
    F.mock(router, "openai", "text")
    graph = one_node(g, raw_node("openai"))
    plain = list(graph.stream(INPUT, stream_mode="messages"))
    merged = list(
        coalesce(max_chars=1000, max_delay_ms=None).messages(
            graph.stream(INPUT, stream_mode="messages")
        )
    )
    assert len(merged) == 3  # first token, the rest, the last chunk
    assert text([m for m, _ in merged]) == text([m for m, _ in plain])
    assert all(meta is merged[0][1] for _, meta in merged)
    assert merged[-1][0].usage_metadata == plain[-1][0].usage_metadata
    multi = list(
        coalesce(max_chars=1000, max_delay_ms=None).messages(
            graph.stream(INPUT, stream_mode=["updates", "messages"], subgraphs=True)
        )
    )
    assert [(ns, mode) for ns, mode, _ in multi] == [((), "messages")] * 3 + [((), "updates")]


async def test_amessages_and_v2_dicts() -> None:
    items = [
        {"type": "messages", "ns": (), "data": (c, {"k": 1})} for c in text_chunks(["a", "b", "c"])
    ]
    items.insert(2, {"type": "updates", "ns": (), "data": {}})

    async def source():
        for item in items:
            yield item

    out = [x async for x in coalesce(max_chars=10, max_delay_ms=1000).amessages(source())]
    assert [
        (x["type"], x["data"][0].content if x["type"] == "messages" else None) for x in out
    ] == [
        ("messages", "a"),
        ("updates", None),
        ("messages", "bc"),
        ("messages", ""),
    ]


@pytest.mark.parametrize("impl_name", IMPLS)
def test_with_transforms_model_in_a_graph(router, impl_name: str) -> None:
    g = impl(impl_name)
    F.mock(router, "anthropic", "text_then_tool_call")
    plain_model = model("anthropic")
    plain = list(
        one_node(g, lambda s: {"messages": [plain_model.invoke(s["messages"])]}).stream(
            INPUT, stream_mode="messages"
        )
    )
    wrapped = with_transforms(model("anthropic"), coalesce(max_chars=1000, max_delay_ms=None))
    got = list(
        one_node(g, lambda s: {"messages": [wrapped.invoke(s["messages"])]}).stream(
            INPUT, stream_mode="values"
        )
    )
    final = got[-1]["messages"][-1]
    plain_total = total([m for m, _ in plain])
    assert final.text == plain_total.text and final.tool_calls == plain_total.tool_calls
    streamed = list(
        one_node(g, lambda s: {"messages": [wrapped.invoke(s["messages"])]}).stream(
            INPUT, stream_mode="messages"
        )
    )
    assert len(streamed) < len(plain)
    assert total([m for m, _ in streamed]).tool_calls == total([m for m, _ in plain]).tool_calls
    assert {m.id for m, _ in streamed} == {m.id for m, _ in plain}
    assert {meta["ls_provider"] for _, meta in streamed} == {"anthropic"}


async def test_with_transforms_async_and_bind_tools(router) -> None:
    route = F.mock(router, "openai", "tool_call")

    def get_weather(location: str) -> str:
        """Weather for a place."""
        return "sunny"

    wrapped = with_transforms(model("openai"), redact("Paris", "[CITY]")).bind_tools([get_weather])
    message = await wrapped.ainvoke("hi")
    assert '"tools"' in route.calls.last.request.content.decode()
    assert message.tool_calls[0]["name"] == "get_weather"
    assert "Paris" not in str(message.tool_calls)
    chunks = [c async for c in wrapped.astream("hi")]
    assert chunks[-1].chunk_position == "last"


def test_stream_tokens_output_can_be_transformed() -> None:
    out = list(
        coalesce(max_chars=100, max_delay_ms=None).stream(stream_tokens(iter(["a", "b", "c"])))
    )
    assert [c.content for c in out] == ["a", "bc", ""]


def test_streamtap_model_with_transforms_method(router) -> None:
    F.mock(router, "openai", "text")
    seen: list[Any] = []
    wrapped = model("openai").with_transforms(
        coalesce(max_chars=1000, max_delay_ms=None), on_chunk(seen.append)
    )
    chunks = list(wrapped.stream("hi"))
    assert chunks[0].content == "Hello"
    assert len(chunks) == 3 and chunks[-1].chunk_position == "last"
    assert "".join(c.content for c in chunks) == F.expected("openai", "text")["text"]
    assert len(seen) == 3
