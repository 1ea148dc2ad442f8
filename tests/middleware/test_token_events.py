"""TokenEvents: custom token events become messages-mode chunks, in both runtimes."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.messages import AIMessage

from streamtap.middleware import TokenEvents
from tests.middleware.conftest import IMPLS, INPUT, impl, nested, one_node

TOKENS = ["Hel", "lo", "!"]


def sync_node(state: Any) -> dict[str, Any]:
    for token in TOKENS:
        dispatch_custom_event("custom_token", {"content": token, "id": "m1"})
    return {"messages": [AIMessage("Hello!", id="m1")]}


async def async_node(state: Any) -> dict[str, Any]:
    for token in TOKENS:
        await adispatch_custom_event("custom_token", {"content": token, "id": "m1"})
    return {"messages": [AIMessage("Hello!", id="m1")]}


def _pairs(items: list[Any]) -> list[tuple[str, Any, Any, str]]:
    return [(type(m).__name__, m.content, m.id, meta["langgraph_node"]) for m, meta in items]


EXPECTED = [("AIMessageChunk", t, "m1", "llm") for t in TOKENS]


@pytest.mark.parametrize("impl_name", IMPLS)
def test_sync_node(impl_name: str) -> None:
    graph = one_node(impl(impl_name), sync_node)
    got = list(graph.stream(INPUT, {"callbacks": [TokenEvents()]}, stream_mode="messages"))
    assert _pairs(got) == EXPECTED  # the returned message (same id) is not emitted again
    meta = got[0][1]
    assert meta["langgraph_step"] == 1 and meta["langgraph_checkpoint_ns"].startswith("llm:")
    assert all(m is meta for _, m in got)


@pytest.mark.parametrize("impl_name", IMPLS)
async def test_async_node_and_sync_node_under_astream(impl_name: str) -> None:
    g = impl(impl_name)
    for node in (async_node, sync_node):
        got = [
            item
            async for item in one_node(g, node).astream(
                INPUT, {"callbacks": [TokenEvents()]}, stream_mode="messages"
            )
        ]
        assert _pairs(got) == EXPECTED


@pytest.mark.parametrize("impl_name", IMPLS)
def test_with_config_and_custom_mode_stays_empty(impl_name: str) -> None:
    graph = one_node(impl(impl_name), sync_node).with_config(callbacks=[TokenEvents()])
    got = list(graph.stream(INPUT, stream_mode=["messages", "custom"]))
    assert [mode for mode, _ in got] == ["messages"] * 3  # custom events never reach `custom`
    assert _pairs([payload for _, payload in got]) == EXPECTED


@pytest.mark.parametrize("impl_name", IMPLS)
def test_without_the_handler_tokens_are_not_surfaced(impl_name: str) -> None:
    got = list(one_node(impl(impl_name), sync_node).stream(INPUT, stream_mode="messages"))
    assert _pairs(got) == [("AIMessage", "Hello!", "m1", "llm")]  # node output only


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize("subgraphs", [True, False])
def test_subgraph(impl_name: str, subgraphs: bool) -> None:
    graph = nested(impl(impl_name), sync_node)
    got = list(
        graph.stream(
            INPUT, {"callbacks": [TokenEvents()]}, stream_mode="messages", subgraphs=subgraphs
        )
    )
    if subgraphs:
        assert [
            (ns[0].split(":")[0], m.content, meta["langgraph_node"]) for ns, (m, meta) in got
        ] == [("sub", t, "inner") for t in TOKENS]
    else:
        assert _pairs(got) == [("AIMessage", "Hello!", "m1", "sub")]


@pytest.mark.parametrize("impl_name", IMPLS)
def test_payload_keys_and_message_boundaries(impl_name: str) -> None:
    usage = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}

    def node(state: Any) -> dict[str, Any]:
        dispatch_custom_event("tok", {"content": "a", "id": "x", "extra": "ignored"})
        dispatch_custom_event("tok", {"content": "b", "id": "y"})  # interleaved message
        dispatch_custom_event(
            "tok",
            {
                "content": "",
                "id": "x",
                "chunk_position": "last",
                "usage_metadata": usage,
                "response_metadata": {"finish_reason": "stop"},
            },
        )
        dispatch_custom_event("tok", {"content": "no id"})
        dispatch_custom_event("other", {"content": "not a token"})
        return {}

    got = list(
        one_node(impl(impl_name), node).stream(
            INPUT, {"callbacks": [TokenEvents(names=["tok"])]}, stream_mode="messages"
        )
    )
    assert [(m.content, m.id) for m, _ in got[:3]] == [("a", "x"), ("b", "y"), ("", "x")]
    last = got[2][0]
    assert last.chunk_position == "last" and last.usage_metadata == usage
    assert last.response_metadata == {"finish_reason": "stop"}
    assert got[3][0].content == "no id" and got[3][0].id.startswith("lc_run--")
    assert len(got) == 4


def test_provider_and_model_are_reported() -> None:
    got = list(
        one_node(impl("streamtap"), sync_node).stream(
            INPUT,
            {"callbacks": [TokenEvents(provider="mylab", model="m-2")]},
            stream_mode="messages",
        )
    )
    assert {(meta["ls_provider"], meta["ls_model_name"]) for _, meta in got} == {("mylab", "m-2")}


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("just text", "payload must be a dict"),
        ({"text": "x"}, "no 'content' key"),
        ({"content": 3}, "'content' must be a str"),
        ({"content": "x", "id": 7}, "'id' must be a str"),
        ({"content": "x", "chunk_position": "first"}, "'chunk_position'"),
        ({"content": "x", "usage_metadata": {"input_tokens": "many"}}, "invalid payload"),
    ],
)
def test_malformed_payload_raises_value_error(impl_name: str, payload: Any, match: str) -> None:
    def node(state: Any) -> dict[str, Any]:
        dispatch_custom_event("custom_token", payload)
        return {}

    graph = one_node(impl(impl_name), node)
    with pytest.raises(ValueError, match=match) as info:
        list(graph.stream(INPUT, {"callbacks": [TokenEvents()]}, stream_mode="messages"))
    assert "custom_token" in str(info.value)


async def test_async_malformed_payload_raises() -> None:
    async def node(state: Any) -> dict[str, Any]:
        await adispatch_custom_event("custom_token", {"nope": 1})
        return {}

    with pytest.raises(ValueError, match="custom_token"):
        async for _ in one_node(impl("langgraph"), node).astream(
            INPUT, {"callbacks": [TokenEvents()]}, stream_mode="messages"
        ):
            pass


@pytest.mark.parametrize("impl_name", IMPLS)
async def test_astream_events(impl_name: str) -> None:
    graph = one_node(impl(impl_name), async_node).with_config(callbacks=[TokenEvents()])
    events = [e async for e in graph.astream_events(INPUT, version="v2")]
    chat = [e for e in events if e["event"].startswith("on_chat_model")]
    assert [e["event"] for e in chat] == [
        "on_chat_model_start",
        *["on_chat_model_stream"] * 3,
        "on_chat_model_end",
    ]
    assert [e["data"]["chunk"].content for e in chat[1:4]] == TOKENS
    assert chat[-1]["data"]["output"].content == "Hello!"
    assert [e["name"] for e in events if e["event"] == "on_custom_event"] == ["custom_token"] * 3


def test_node_error_closes_open_messages() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Errors(BaseCallbackHandler):
        def __init__(self) -> None:
            self.errors: list[BaseException] = []

        def on_llm_error(self, error: BaseException, **kw: Any) -> None:
            self.errors.append(error)

    def node(state: Any) -> dict[str, Any]:
        dispatch_custom_event("custom_token", {"content": "a", "id": "m"})
        raise RuntimeError("boom")

    recorder, handler = Errors(), TokenEvents()
    with pytest.raises(RuntimeError, match="boom"):
        list(one_node(impl("streamtap"), node).stream(INPUT, {"callbacks": [handler, recorder]}))
    assert [str(e) for e in recorder.errors] == ["boom"]
    assert not handler._open and not handler._by_parent


def test_names_validation() -> None:
    assert TokenEvents("tok").names == frozenset({"tok"})
    with pytest.raises(ValueError, match="at least one"):
        TokenEvents(names=[])
