"""stream_tokens / astream_tokens: a raw SDK stream in a node looks exactly like a chat model.

The oracle is the streamtap chat model for the same fixture, run in the same graph
(streamtap.graph and LangGraph): same chunks (content, tool-call chunks, usage,
ids, chunk_position), same metadata, nothing emitted twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableLambda
from langchain_core.version import VERSION

from streamtap.errors import StreamInterrupted
from streamtap.middleware import astream_tokens, stream_tokens
from tests import _fixtures as F
from tests.middleware.conftest import (
    IMPLS,
    INPUT,
    WIRES,
    amodel_node,
    araw_node,
    araw_stream,
    impl,
    model,
    model_node,
    nested,
    one_node,
    raw_node,
    raw_stream,
    views,
)
from tests.providers.conftest import API_KEY

SCENARIOS = ("text_then_tool_call", "parallel_tool_calls", "usage_cache")


def _messages(graph: Any, **kw: Any) -> list[Any]:
    return list(graph.stream(INPUT, stream_mode="messages", **kw))


async def _amessages(graph: Any, **kw: Any) -> list[Any]:
    return [item async for item in graph.astream(INPUT, stream_mode="messages", **kw)]


def _without_versions(items: list[Any]) -> list[Any]:
    # StreamtapChatModel.model_post_init skips BaseLanguageModel's, so the model's runs lack
    # lc_versions, which every LangChain chat model (and stream_tokens) reports. Compared
    # separately in test_metadata_keys_match_a_langchain_chat_model.
    for _, _, metadata in (v if len(v) == 3 else v[1] for v in items):
        metadata.pop("lc_versions", None)
    return items


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sync_node_matches_chat_model(router, impl_name: str, wire: str, scenario: str) -> None:
    g = impl(impl_name)
    F.mock(router, wire, scenario)
    expected = _messages(one_node(g, model_node(wire)))
    got = _messages(one_node(g, raw_node(wire)))
    assert _without_versions(views(got)) == _without_versions(views(expected))
    chunks = [m for m, _ in got]
    assert chunks[-1].chunk_position == "last"
    usage = F.expected(wire, scenario)["usage"]
    assert chunks[-1].usage_metadata is not None
    assert {
        k: chunks[-1].usage_metadata[k] for k in ("input_tokens", "output_tokens", "total_tokens")
    } == {  # type: ignore[literal-required]
        k: usage[k] for k in ("input_tokens", "output_tokens", "total_tokens")
    }
    assert len({m.id for m in chunks}) == 1  # one message, the vendor's id, no re-emission


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize("wire", WIRES)
async def test_async_node_matches_chat_model(router, impl_name: str, wire: str) -> None:
    g = impl(impl_name)
    F.mock(router, wire, "text_then_tool_call")
    expected = await _amessages(one_node(g, amodel_node(wire)))
    got = await _amessages(one_node(g, araw_node(wire)))
    assert _without_versions(views(got)) == _without_versions(views(expected))
    assert any(m.tool_call_chunks for m, _ in got)


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_sync_node_under_astream(router, impl_name: str, wire: str) -> None:
    """A sync node in an async run executes in a worker thread; its tokens still arrive."""
    g = impl(impl_name)
    F.mock(router, wire, "text")
    expected = await _amessages(one_node(g, model_node(wire)))
    got = await _amessages(one_node(g, raw_node(wire)))
    assert _without_versions(views(got)) == _without_versions(views(expected))
    assert "".join(m.content for m, _ in got) == F.expected(wire, "text")["text"]


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize("subgraphs", [True, False])
@pytest.mark.parametrize("is_async", [False, True])
async def test_subgraph_node(router, impl_name: str, subgraphs: bool, is_async: bool) -> None:
    g = impl(impl_name)
    F.mock(router, "anthropic", "text_then_tool_call")
    raw = araw_node("anthropic") if is_async else raw_node("anthropic")
    chat = amodel_node("anthropic") if is_async else model_node("anthropic")
    if is_async:
        expected = await _amessages(nested(g, chat), subgraphs=subgraphs)
        got = await _amessages(nested(g, raw), subgraphs=subgraphs)
    else:
        expected = _messages(nested(g, chat), subgraphs=subgraphs)
        got = _messages(nested(g, raw), subgraphs=subgraphs)
    assert _without_versions(views(got)) == _without_versions(views(expected))
    if subgraphs:
        assert all(ns and ns[0].startswith("sub:") for ns, _ in got)
        assert {meta["langgraph_node"] for _, (_, meta) in got} == {"inner"}
        assert len(got) > 2
    else:  # the child's tokens are filtered; the sub node's output arrives whole
        assert [(type(m).__name__, meta["langgraph_node"]) for m, meta in got] == [
            ("AIMessage", "sub")
        ]


@pytest.mark.parametrize("impl_name", IMPLS)
def test_metadata_keys_match_a_langchain_chat_model(router, impl_name: str) -> None:
    """Same keys as langchain-openai's ChatOpenAI for the same request (the LangChain oracle)."""
    from langchain_openai import ChatOpenAI

    g = impl(impl_name)
    F.mock(router, "openai", "text")
    lc_model = ChatOpenAI(
        model="gpt-4o", api_key=API_KEY, max_retries=0, max_tokens=64, temperature=0.5
    )
    lc = _messages(one_node(g, lambda s: {"messages": [lc_model.invoke(s["messages"])]}))
    got = _messages(one_node(g, raw_node("openai")))
    keys = {frozenset(meta) for _, meta in got}
    assert keys == {frozenset(lc[0][1])}
    meta = got[0][1]
    assert meta["ls_provider"] == "openai"
    assert meta["ls_model_name"] == "gpt-4o"  # the requested model, as LangChain reports it
    assert meta["ls_max_tokens"] == 64
    assert meta["ls_temperature"] == 0.5
    assert meta["ls_model_type"] == "chat"
    assert meta["ls_integration"] == "langchain_chat_model"
    assert meta["lc_versions"]["langchain-core"] == VERSION
    assert all(m is meta for _, m in got)  # one metadata object per run, as LangChain


@pytest.mark.parametrize("impl_name", IMPLS)
def test_run_tags_and_metadata_reach_the_pairs(router, impl_name: str) -> None:
    g = impl(impl_name)
    F.mock(router, "openai", "text")
    got = _messages(
        one_node(g, raw_node("openai")), config={"tags": ["runtag"], "metadata": {"user": 1}}
    )
    assert {tuple(meta["tags"]) for _, meta in got} == {("runtag",)}
    assert {meta["user"] for _, meta in got} == {1}


@pytest.mark.parametrize("impl_name", IMPLS)
async def test_astream_events(router, impl_name: str) -> None:
    g = impl(impl_name)
    F.mock(router, "openai", "text_then_tool_call")

    async def events(graph: Any) -> list[dict[str, Any]]:
        return [
            e
            async for e in graph.astream_events(INPUT, version="v2")
            if e["event"].startswith("on_chat_model")
        ]

    expected = await events(one_node(g, amodel_node("openai")))
    got = await events(one_node(g, araw_node("openai")))
    assert [e["event"] for e in got] == [e["event"] for e in expected]
    assert [e["event"] for e in got][:2] == ["on_chat_model_start", "on_chat_model_stream"]
    stream = [e["data"]["chunk"].model_dump() for e in got if e["event"] == "on_chat_model_stream"]
    assert stream == [
        e["data"]["chunk"].model_dump() for e in expected if e["event"] == "on_chat_model_stream"
    ]
    assert got[-1]["data"]["output"].id == expected[-1]["data"]["output"].id
    assert got[0]["name"] == "stream_tokens"
    assert got[0]["metadata"]["ls_provider"] == "openai"


# --------------------------------------------------------------------------- sources


def _dump(chunks: list[AIMessageChunk]) -> list[dict[str, Any]]:
    return [c.model_dump() for c in chunks]


@pytest.mark.parametrize("wire", WIRES)
def test_outside_a_run_only_normalizes(router, wire: str) -> None:
    F.mock(router, wire, "text_then_tool_call")
    expected = list(model(wire).stream_chunks([("human", "hi")]))
    F.mock(router, wire, "text_then_tool_call")
    with stream_tokens(raw_stream(wire)) as tokens:
        got = list(tokens)
    assert _dump(got) == _dump(expected)
    assert tokens.message.id == expected[0].id
    assert tokens.message.tool_calls and tokens.message.usage_metadata


@pytest.mark.parametrize("wire", WIRES)
async def test_async_outside_a_run(router, wire: str) -> None:
    F.mock(router, wire, "text")
    expected = list(model(wire).stream_chunks([("human", "hi")]))
    F.mock(router, wire, "text")
    got = [c async for c in astream_tokens(await araw_stream(wire))]
    assert _dump(got) == _dump(expected)


@pytest.mark.parametrize("wire", WIRES)
def test_typed_events_and_dicts_detect_the_provider(router, wire: str) -> None:
    F.mock(router, wire, "text_then_tool_call")
    expected = _dump(list(model(wire).stream_chunks([("human", "hi")])))
    F.mock(router, wire, "text_then_tool_call")
    events = list(raw_stream(wire))
    assert _dump(list(stream_tokens(events))) == expected
    assert _dump(list(stream_tokens(iter(e.to_dict() for e in events)))) == expected


def test_anthropic_stream_helper(router) -> None:
    import anthropic

    F.mock(router, "anthropic", "text_then_tool_call")
    client = anthropic.Anthropic(api_key=API_KEY, max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as helper:
        tokens = stream_tokens(helper)
        list(tokens)
    assert (
        tokens.message.tool_calls[0]["name"]
        == F.expected("anthropic", "text_then_tool_call")["tool_calls"][0]["name"]
    )


def test_str_tokens_are_one_message_with_a_last_chunk() -> None:
    tokens = stream_tokens(iter(["Hel", "lo", "!"]), provider="mylab", model="m-1")
    chunks = list(tokens)
    assert [c.content for c in chunks] == ["Hel", "lo", "!", ""]
    assert chunks[-1].chunk_position == "last"
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("lc_run--")
    assert tokens.message.content == "Hello!" and tokens.message.id == chunks[0].id


def test_chunk_source_keeps_its_ids_and_gets_a_last_chunk() -> None:
    chunks = list(
        stream_tokens([AIMessageChunk(content="a", id="x"), AIMessageChunk(content="b", id="x")])
    )
    assert [(c.content, c.id, c.chunk_position) for c in chunks] == [
        ("a", "x", None),
        ("b", "x", None),
        ("", "x", "last"),
    ]


@pytest.mark.parametrize("impl_name", IMPLS)
def test_str_tokens_in_a_graph_are_not_emitted_twice(impl_name: str) -> None:
    g = impl(impl_name)

    def node(state: Any) -> dict[str, Any]:
        tokens = stream_tokens(iter(["raw", "-", "tok"]), provider="raw", model="m")
        for _ in tokens:
            pass
        return {"messages": [tokens.message]}

    got = _messages(one_node(g, node))
    assert [(type(m).__name__, m.content) for m, _ in got] == [
        ("AIMessageChunk", "raw"),
        ("AIMessageChunk", "-"),
        ("AIMessageChunk", "tok"),
        ("AIMessageChunk", ""),
    ]
    assert {meta["ls_provider"] for _, meta in got} == {"raw"}


async def test_async_str_source_and_sync_iterable() -> None:
    async def gen():
        for t in ["a", "b"]:
            yield t

    assert [c.content async for c in astream_tokens(gen())] == ["a", "b", ""]
    assert [c.content async for c in astream_tokens(["c"])] == ["c", ""]


def test_empty_source_is_one_empty_message() -> None:
    chunks = list(stream_tokens([]))
    assert [(c.content, c.chunk_position) for c in chunks] == [("", "last")]


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("hello", "single string"),
        (42, "iterable"),
        ([object()], "cannot read items of type object"),
        (["a", 1], "item 1 is int"),
        ([{"foo": 1}], "cannot tell which provider"),
    ],
)
def test_bad_sources_raise_type_errors(source: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        list(stream_tokens(source))


def test_async_stream_given_to_sync_api() -> None:
    async def gen():
        yield "x"

    with pytest.raises(TypeError, match="astream_tokens"):
        stream_tokens(gen())


# --------------------------------------------------------------------------- callbacks


class Recorder(BaseCallbackHandler):
    run_inline = True

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_chat_model_start(self, serialized, messages, *, metadata=None, **kw: Any) -> None:
        self.events.append(("start", metadata))

    def on_llm_new_token(self, token, *, chunk=None, **kw: Any) -> None:
        self.events.append(("token", chunk.message.content))

    def on_llm_end(self, response, **kw: Any) -> None:
        self.events.append(("end", response.generations[0][0].message))

    def on_llm_error(self, error, **kw: Any) -> None:
        self.events.append(("error", error))


def _in_runnable(fn: Any, recorder: Recorder) -> Any:
    return RunnableLambda(fn).invoke(None, {"callbacks": [recorder]})


def test_callbacks_in_any_runnable(router) -> None:
    F.mock(router, "anthropic", "text")
    recorder = Recorder()
    _in_runnable(lambda _: list(stream_tokens(raw_stream("anthropic"))), recorder)
    kinds = [k for k, _ in recorder.events]
    assert kinds[0] == "start" and kinds[-1] == "end" and set(kinds[1:-1]) == {"token"}
    assert recorder.events[0][1]["ls_provider"] == "anthropic"
    assert recorder.events[-1][1].content == F.expected("anthropic", "text")["text"]


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_mid_stream_failure_reports_error_and_raises(router, wire: str) -> None:
    route = F.mock(router, wire, "truncated")
    recorder = Recorder()

    def consume(_: Any) -> None:
        list(stream_tokens(raw_stream(wire)))

    with pytest.raises(StreamInterrupted) as info:
        _in_runnable(consume, recorder)
    assert info.value.partial.content == "Hello! How can I help"
    assert recorder.events[-1][0] == "error" and recorder.events[-1][1] is info.value
    assert route.side_effect.streams[-1].closed


def test_closing_early_closes_the_sdk_stream(router) -> None:
    route = F.mock(router, "openai", "text")
    recorder = Recorder()

    def first(_: Any) -> str:
        with stream_tokens(raw_stream("openai")) as tokens:
            return next(tokens).content

    assert _in_runnable(first, recorder)
    assert route.side_effect.streams[-1].closed
    assert recorder.events[-1][0] == "error"  # an unfinished message is not a completed run


def test_closing_after_the_last_chunk_is_a_normal_end(router) -> None:
    recorder = Recorder()

    def upto_last(_: Any) -> None:
        tokens = stream_tokens(iter(["a", "b"]))
        for chunk in tokens:
            if chunk.chunk_position == "last":
                break
        tokens.close()

    _in_runnable(upto_last, recorder)
    assert recorder.events[-1][0] == "end"
    assert recorder.events[-1][1].content == "ab"


async def test_async_failure_and_close(router) -> None:
    route = F.mock(router, "anthropic", "truncated")
    with pytest.raises(StreamInterrupted):
        async for _ in astream_tokens(await araw_stream("anthropic")):
            pass
    assert route.side_effect.streams[-1].closed
    route = F.mock(router, "anthropic", "text")
    async with astream_tokens(await araw_stream("anthropic")) as tokens:
        async for _ in tokens:
            break
    assert route.side_effect.streams[-1].closed


def test_openai_chat_stream_helper(router) -> None:
    import openai

    F.mock(router, "openai", "text_then_tool_call")
    expected = list(model("openai").stream_chunks([("human", "hi")]))
    F.mock(router, "openai", "text_then_tool_call")
    client = openai.OpenAI(api_key=API_KEY, max_retries=0)
    with client.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    ) as helper:
        got = list(stream_tokens(helper))
    assert _dump(got) == _dump(expected)
