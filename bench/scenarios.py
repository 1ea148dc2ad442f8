"""The measured scenarios: one stream read end to end by each layer under comparison.

A scenario is built once per (vendor, transport, stream length): clients,
models and compiled graphs are set up outside the timed region, as an
application would hold them. Its ``make`` starts one run and returns what the
consumer iterates (raw SDK events, chunks, or ``messages``-mode items); the
timed region covers that call, so first-token time includes the HTTP request
and, for graphs, the per-run setup.

Names in :data:`REQUIRED` are the issue's JSON keys; the others are extra
columns that explain where the cost goes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from langchain_core.messages import AIMessageChunk, HumanMessage

from bench.transports import API_KEY, Endpoint, model_name

__all__ = ["REQUIRED", "SCENARIOS", "Ctx", "Scenario", "by_name", "text_of"]

PROMPT: Final = "hi"
MAX_TOKENS: Final = 4096
GRAPH_INPUT_MESSAGES: Final = (HumanMessage(PROMPT, id="bench-human"),)


@dataclass(frozen=True)
class Ctx:
    vendor: str
    endpoint: Endpoint
    tokens: int


SyncMake = Callable[[], Iterable[Any]]
AsyncMake = Callable[[], Awaitable[AsyncIterable[Any]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    is_async: bool
    #: Built once per context; returns the per-run ``make``.
    build: Callable[[Ctx], Any]
    #: What the scenario stands for, for the table's legend.
    about: str

    #: Which raw-SDK scenario its added cost is measured against.
    @property
    def baseline(self) -> str:
        return "raw_sdk_async" if self.is_async else "raw_sdk"

    @property
    def langgraph(self) -> str:
        return "langgraph_messages_async" if self.is_async else "langgraph_messages_sync"


# --------------------------------------------------------------------------- items


def text_of(item: Any) -> str:
    """The text one streamed item carries, whatever layer produced it."""
    if isinstance(item, tuple):  # messages mode: (message, metadata)
        item = item[0]
    if isinstance(item, AIMessageChunk):
        content = item.content
        return content if isinstance(content, str) else ""
    if type(item).__name__ == "ServerSentEvent":  # the SDK's decoded SSE, not yet JSON
        return _sse_text(item.data, item.event)
    choices = getattr(item, "choices", None)
    if choices is not None:  # openai ChatCompletionChunk
        return "".join(c.delta.content or "" for c in choices)
    if getattr(item, "type", None) == "content_block_delta":  # anthropic event
        return getattr(item.delta, "text", "") or ""
    return ""


def _sse_text(data: str, event: str | None) -> str:
    if not data.startswith("{"):
        return ""
    decoded = json.loads(data)
    if event == "content_block_delta":
        return str(decoded["delta"].get("text") or "")
    choices = decoded.get("choices") or ()
    return "".join((c.get("delta") or {}).get("content") or "" for c in choices)


# --------------------------------------------------------------------------- building blocks


def _raw_kwargs(ctx: Ctx) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": model_name(ctx.tokens),
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
    }
    if ctx.vendor == "anthropic":
        kwargs["max_tokens"] = MAX_TOKENS
    return kwargs


def _raw_create(client: Any, vendor: str) -> Callable[..., Any]:
    return client.chat.completions.create if vendor == "openai" else client.messages.create  # type: ignore[no-any-return]


def _streamtap_model(ctx: Ctx) -> Any:
    import streamtap

    return streamtap.chat_model(
        f"{ctx.vendor}:{model_name(ctx.tokens)}",
        api_key=API_KEY,
        base_url=ctx.endpoint.base_url(ctx.vendor),
        http_client=ctx.endpoint.http_client(),
        http_async_client=ctx.endpoint.http_async_client(),
        max_retries=0,
        max_tokens=MAX_TOKENS,
    )


def _langchain_model(ctx: Ctx) -> Any:
    if ctx.vendor == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=model_name(ctx.tokens),
            api_key=API_KEY,  # type: ignore[arg-type]
            base_url=ctx.endpoint.base_url(ctx.vendor),
            http_client=ctx.endpoint.http_client(),
            http_async_client=ctx.endpoint.http_async_client(),
            max_retries=0,
            max_tokens=MAX_TOKENS,  # type: ignore[call-arg]
        )
    from langchain_anthropic import ChatAnthropic

    chat = ChatAnthropic(
        model=model_name(ctx.tokens),  # type: ignore[call-arg]
        api_key=API_KEY,  # type: ignore[arg-type]
        base_url=ctx.endpoint.base_url(ctx.vendor),
        max_retries=0,
        max_tokens=MAX_TOKENS,  # type: ignore[call-arg]
    )
    # ChatAnthropic has no http_client field: fill its cached clients with ours.
    chat.__dict__["_client"] = ctx.endpoint.sdk_client(ctx.vendor)
    chat.__dict__["_async_client"] = ctx.endpoint.sdk_async_client(ctx.vendor)
    return chat


def _graph(runtime: str, node: Callable[..., Any]) -> Any:
    if runtime == "streamtap":
        from streamtap.graph import START, MessagesState, StateGraph
    else:
        from langgraph.graph import START, MessagesState, StateGraph  # type: ignore[assignment]
    builder: Any = StateGraph(MessagesState)
    builder.add_node("llm", node)
    builder.add_edge(START, "llm")
    return builder.compile()


def _graph_input() -> dict[str, Any]:
    return {"messages": list(GRAPH_INPUT_MESSAGES)}


def _model_graph(runtime: str, model: Any, *, is_async: bool) -> Any:
    if is_async:

        async def allm(state: dict[str, Any]) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        return _graph(runtime, allm)

    def llm(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    return _graph(runtime, llm)


def _sync_graph_make(graph: Any) -> SyncMake:
    def make() -> Iterable[Any]:
        return graph.stream(_graph_input(), stream_mode="messages")  # type: ignore[no-any-return]

    return make


def _async_graph_make(graph: Any) -> AsyncMake:
    async def make() -> AsyncIterable[Any]:
        return graph.astream(_graph_input(), stream_mode="messages")  # type: ignore[no-any-return]

    return make


# --------------------------------------------------------------------------- scenarios


def _raw_sdk(ctx: Ctx) -> SyncMake:
    create, kwargs = _raw_create(ctx.endpoint.sdk_client(ctx.vendor), ctx.vendor), _raw_kwargs(ctx)
    return lambda: create(**kwargs)  # type: ignore[no-any-return]


def _raw_sdk_sse(ctx: Ctx) -> SyncMake:
    create, kwargs = _raw_create(ctx.endpoint.sdk_client(ctx.vendor), ctx.vendor), _raw_kwargs(ctx)

    def make() -> Iterable[Any]:
        stream = create(**kwargs)
        return stream._iter_events()  # type: ignore[no-any-return]

    return make


def _raw_sdk_async(ctx: Ctx) -> AsyncMake:
    create = _raw_create(ctx.endpoint.sdk_async_client(ctx.vendor), ctx.vendor)
    kwargs = _raw_kwargs(ctx)

    async def make() -> AsyncIterable[Any]:
        return await create(**kwargs)  # type: ignore[no-any-return]

    return make


def _normalize(ctx: Ctx) -> SyncMake:
    from streamtap import normalize

    create, kwargs = _raw_create(ctx.endpoint.sdk_client(ctx.vendor), ctx.vendor), _raw_kwargs(ctx)
    vendor = ctx.vendor
    return lambda: normalize(vendor, create(**kwargs))


def _stream_chunks(ctx: Ctx) -> SyncMake:
    model = _streamtap_model(ctx)
    return lambda: model.stream_chunks(PROMPT)  # type: ignore[no-any-return]


def _model_stream(ctx: Ctx) -> SyncMake:
    model = _streamtap_model(ctx)
    return lambda: model.stream(PROMPT)  # type: ignore[no-any-return]


def _model_astream(ctx: Ctx) -> AsyncMake:
    model = _streamtap_model(ctx)

    async def make() -> AsyncIterable[Any]:
        return model.astream(PROMPT)  # type: ignore[no-any-return]

    return make


def _langchain_stream(ctx: Ctx) -> SyncMake:
    model = _langchain_model(ctx)
    return lambda: model.stream(PROMPT)  # type: ignore[no-any-return]


def _langchain_astream(ctx: Ctx) -> AsyncMake:
    model = _langchain_model(ctx)

    async def make() -> AsyncIterable[Any]:
        return model.astream(PROMPT)  # type: ignore[no-any-return]

    return make


def _streamtap_graph_sync(ctx: Ctx) -> SyncMake:
    return _sync_graph_make(_model_graph("streamtap", _streamtap_model(ctx), is_async=False))


def _streamtap_graph_async(ctx: Ctx) -> AsyncMake:
    return _async_graph_make(_model_graph("streamtap", _streamtap_model(ctx), is_async=True))


def _langgraph_sync(ctx: Ctx) -> SyncMake:
    return _sync_graph_make(_model_graph("langgraph", _langchain_model(ctx), is_async=False))


def _langgraph_async(ctx: Ctx) -> AsyncMake:
    return _async_graph_make(_model_graph("langgraph", _langchain_model(ctx), is_async=True))


def _langgraph_streamtap_sync(ctx: Ctx) -> SyncMake:
    return _sync_graph_make(_model_graph("langgraph", _streamtap_model(ctx), is_async=False))


def _langgraph_streamtap_async(ctx: Ctx) -> AsyncMake:
    return _async_graph_make(_model_graph("langgraph", _streamtap_model(ctx), is_async=True))


def _streamtap_graph_langchain_sync(ctx: Ctx) -> SyncMake:
    return _sync_graph_make(_model_graph("streamtap", _langchain_model(ctx), is_async=False))


def _stream_tokens_graph(ctx: Ctx) -> SyncMake:
    from streamtap.middleware import stream_tokens

    create, kwargs = _raw_create(ctx.endpoint.sdk_client(ctx.vendor), ctx.vendor), _raw_kwargs(ctx)

    def llm(state: dict[str, Any]) -> dict[str, Any]:
        tokens = stream_tokens(create(**kwargs))
        for _ in tokens:
            pass
        return {"messages": [tokens.message]}

    return _sync_graph_make(_graph("streamtap", llm))


def _stream_tokens_graph_async(ctx: Ctx) -> AsyncMake:
    from streamtap.middleware import astream_tokens

    create = _raw_create(ctx.endpoint.sdk_async_client(ctx.vendor), ctx.vendor)
    kwargs = _raw_kwargs(ctx)

    async def llm(state: dict[str, Any]) -> dict[str, Any]:
        tokens = astream_tokens(await create(**kwargs))
        async for _ in tokens:
            pass
        return {"messages": [tokens.message]}

    return _async_graph_make(_graph("streamtap", llm))


SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario("raw_sdk", False, _raw_sdk, "iterate the SDK's create(stream=True)"),
    Scenario("raw_sdk_async", True, _raw_sdk_async, "async iterate the SDK's create(stream=True)"),
    Scenario(
        "raw_sdk_sse",
        False,
        _raw_sdk_sse,
        "the SDK's decoded SSE events, no JSON: the floor under every adapter",
    ),
    Scenario("streamtap_normalize", False, _normalize, "streamtap.normalize(vendor, sdk_stream)"),
    Scenario(
        "streamtap_stream_chunks", False, _stream_chunks, "model.stream_chunks(): no callback layer"
    ),
    Scenario("streamtap_model_stream", False, _model_stream, "streamtap chat model .stream()"),
    Scenario("streamtap_model_astream", True, _model_astream, "streamtap chat model .astream()"),
    Scenario(
        "streamtap_graph_messages_sync",
        False,
        _streamtap_graph_sync,
        "streamtap.graph + streamtap model, stream(messages)",
    ),
    Scenario(
        "streamtap_graph_messages_async",
        True,
        _streamtap_graph_async,
        "streamtap.graph + streamtap model, astream(messages)",
    ),
    Scenario(
        "stream_tokens_graph",
        False,
        _stream_tokens_graph,
        "streamtap.graph, node wraps the raw SDK in stream_tokens()",
    ),
    Scenario(
        "stream_tokens_graph_async",
        True,
        _stream_tokens_graph_async,
        "streamtap.graph, node wraps the raw SDK in astream_tokens()",
    ),
    Scenario(
        "streamtap_graph_langchain_sync",
        False,
        _streamtap_graph_langchain_sync,
        "streamtap.graph + ChatOpenAI/ChatAnthropic, stream(messages)",
    ),
    Scenario(
        "langchain_model_stream", False, _langchain_stream, "ChatOpenAI/ChatAnthropic .stream()"
    ),
    Scenario(
        "langchain_model_astream", True, _langchain_astream, "ChatOpenAI/ChatAnthropic .astream()"
    ),
    Scenario(
        "langgraph_messages_sync",
        False,
        _langgraph_sync,
        "LangGraph + ChatOpenAI/ChatAnthropic, stream(messages)",
    ),
    Scenario(
        "langgraph_messages_async",
        True,
        _langgraph_async,
        "LangGraph + ChatOpenAI/ChatAnthropic, astream(messages)",
    ),
    Scenario(
        "langgraph_streamtap_messages_sync",
        False,
        _langgraph_streamtap_sync,
        "LangGraph + streamtap model, stream(messages)",
    ),
    Scenario(
        "langgraph_streamtap_messages_async",
        True,
        _langgraph_streamtap_async,
        "LangGraph + streamtap model, astream(messages)",
    ),
)

#: The scenario keys the issue requires in the JSON, per vendor.
REQUIRED: Final = (
    "raw_sdk",
    "streamtap_normalize",
    "streamtap_model_stream",
    "streamtap_model_astream",
    "streamtap_graph_messages_sync",
    "streamtap_graph_messages_async",
    "stream_tokens_graph",
    "langchain_model_stream",
    "langgraph_messages_sync",
    "langgraph_messages_async",
)


def by_name(names: Iterable[str] | None = None) -> list[Scenario]:
    """The scenarios named (all when None), in table order; unknown names are an error."""
    if names is None:
        return list(SCENARIOS)
    wanted = list(names)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; known: {', '.join(known)}")
    needed = set(wanted) | {"raw_sdk", "raw_sdk_async"}
    return [s for s in SCENARIOS if s.name in needed]
