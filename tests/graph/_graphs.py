"""Graphs written once against an implementation namespace ``g`` (see ``_impls``).

Each builder returns ``(compiled_graph, input, config)``. Node bodies are
deterministic; where two tasks of one step race, the case is marked
``parallel`` and compared per step without order.
"""

from __future__ import annotations

import operator
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import CallbackManager
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk, LLMResult
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from tests.graph._fakes import NoStreamFake, TokenFake


class S(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def linear(g: Any) -> Any:
    def a(state: S) -> dict[str, Any]:
        g.get_stream_writer()({"from": "a"})
        return {"x": state["x"] + 1, "log": ["a"]}

    def b(state: S) -> dict[str, Any]:
        return {"log": ["b"]}

    builder = g.StateGraph(S)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(g.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", g.END)
    return builder.compile(), {"x": 0, "log": []}, None


def branching(g: Any) -> Any:
    def a(state: S) -> dict[str, Any]:
        return {"x": state["x"] + 5, "log": ["a"]}

    def big(state: S) -> dict[str, Any]:
        return {"log": ["big"]}

    def small(state: S) -> dict[str, Any]:
        return {"log": ["small"]}

    def noop(state: S) -> None:
        return None

    def route(state: S) -> str:
        return "big" if state["x"] > 3 else "small"

    builder = g.StateGraph(S)
    builder.add_node("a", a)
    builder.add_node("big", big)
    builder.add_node("small", small)
    builder.add_node("noop", noop)
    builder.add_edge(g.START, "a")
    builder.add_conditional_edges("a", route, {"big": "big", "small": "small"})
    builder.add_edge("big", "noop")
    builder.add_edge("small", g.END)
    return builder.compile(), {"x": 0, "log": []}, None


def loop(g: Any) -> Any:
    def inc(state: S) -> dict[str, Any]:
        g.get_stream_writer()(f"inc {state['x']}")
        return {"x": state["x"] + 1, "log": [f"i{state['x']}"]}

    def route(state: S) -> str:
        return "inc" if state["x"] < 3 else g.END

    builder = g.StateGraph(S)
    builder.add_node("inc", inc)
    builder.add_edge(g.START, "inc")
    builder.add_conditional_edges("inc", route)
    return builder.compile(), {"x": 0, "log": []}, None


class FanState(TypedDict):
    items: list[str]
    results: Annotated[list, operator.add]
    total: int


def fanout(g: Any) -> Any:
    def worker(arg: dict[str, Any]) -> dict[str, Any]:
        return {"results": [arg["item"].upper()]}

    def reduce(state: FanState) -> dict[str, Any]:
        return {"total": len(state["results"])}

    def spread(state: FanState) -> list[Any]:
        return [g.Send("worker", {"item": it}) for it in state["items"]]

    builder = g.StateGraph(FanState)
    builder.add_node("worker", worker)
    builder.add_node("reduce", reduce)
    builder.add_conditional_edges(g.START, spread)
    builder.add_edge("worker", "reduce")
    return builder.compile(), {"items": ["a", "b", "c"], "results": []}, None


def join(g: Any) -> Any:
    def a(state: S) -> dict[str, Any]:
        return {"log": ["a"]}

    def b(state: S) -> dict[str, Any]:
        return {"log": ["b"]}

    def c(state: S) -> dict[str, Any]:
        return {"log": ["c"]}

    def d(state: S) -> dict[str, Any]:
        return {"x": len(state["log"]), "log": ["d"]}

    builder = g.StateGraph(S)
    for name, fn in (("a", a), ("b", b), ("c", c), ("d", d)):
        builder.add_node(name, fn)
    builder.add_edge(g.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("a", "c")
    builder.add_edge(["b", "c"], "d")
    return builder.compile(), {"x": 0, "log": []}, None


def command(g: Any) -> Any:
    def a(state: S) -> Any:
        return g.Command(update={"x": 9, "log": ["a"]}, goto="c")

    def b(state: S) -> dict[str, Any]:
        return {"log": ["b"]}

    def c(state: S) -> Any:
        return [g.Command(update={"log": ["c1"]}), g.Command(update={"log": ["c2"]}, goto=g.END)]

    builder = g.StateGraph(S)
    builder.add_node("a", a, destinations=("b", "c"))
    builder.add_node("b", b)
    builder.add_node("c", c)
    builder.add_edge(g.START, "a")
    return builder.compile(), {"x": 0, "log": []}, None


def llm_messages(g: Any) -> Any:
    model = TokenFake(tokens=["Hel", "lo", "!"])

    def llm(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def tool(state: Any) -> dict[str, Any]:
        return {"messages": [ToolMessage("tool out", tool_call_id="c1", id="tm1")]}

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("llm", llm, metadata={"node_meta": "nm"})
    builder.add_node("tool", tool)
    builder.add_edge(g.START, "llm")
    builder.add_edge("llm", "tool")
    config = {
        "configurable": {"thread_id": "t-msg"},
        "tags": ["my-tag"],
        "metadata": {"user_meta": 1},
    }
    return (
        builder.compile(checkpointer=g.InMemorySaver()),
        {"messages": [HumanMessage("hi", id="h1")]},
        config,
    )


def subgraph(g: Any) -> Any:
    inner_model = TokenFake(tokens=["in", "ner"], msg_id="inner-1")
    outer_model = TokenFake(tokens=["out"], msg_id="outer-1")

    def inner_llm(state: Any) -> dict[str, Any]:
        g.get_stream_writer()({"inner": "custom"})
        return {"messages": [inner_model.invoke(state["messages"])]}

    sub_builder = g.StateGraph(g.MessagesState)
    sub_builder.add_node("inner_llm", inner_llm)
    sub_builder.add_edge(g.START, "inner_llm")
    sub = sub_builder.compile()

    def outer_llm(state: Any) -> dict[str, Any]:
        return {"messages": [outer_model.invoke(state["messages"])]}

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("outer_llm", outer_llm)
    builder.add_node("sub", sub)
    builder.add_edge(g.START, "outer_llm")
    builder.add_edge("outer_llm", "sub")
    return builder.compile(), {"messages": [HumanMessage("hi", id="h1")]}, None


class P(BaseModel):
    x: int = 0
    log: Annotated[list, operator.add] = []


def pydantic_state(g: Any) -> Any:
    def a(state: P) -> dict[str, Any]:
        return {"x": state.x + 1, "log": ["a"]}

    builder = g.StateGraph(P)
    builder.add_node("a", a)
    builder.add_edge(g.START, "a")
    return builder.compile(), {"x": 1}, None


@dataclass
class D:
    x: int = 0
    log: Annotated[list, operator.add] = field(default_factory=list)


def dataclass_state(g: Any) -> Any:
    def a(state: D) -> dict[str, Any]:
        return {"x": state.x + 1, "log": ["a"]}

    builder = g.StateGraph(D)
    builder.add_node("a", a)
    builder.add_edge(g.START, "a")
    return builder.compile(), {"x": 1, "log": []}, None


def checkpointed(g: Any) -> Any:
    graph, inp, _ = linear(g)
    builder = graph.builder
    return (
        builder.compile(checkpointer=g.InMemorySaver()),
        inp,
        {
            "configurable": {"thread_id": "t1"},
            "metadata": {"um": 1},
        },
    )


def msg_scenarios(g: Any, scenario: str) -> Any:
    """One-node MessagesState graphs covering how messages reach ``messages`` mode."""

    def node(state: Any, config: RunnableConfig) -> Any:
        msgs = state["messages"]
        if scenario == "callbacks_by_hand":  # a non-LangChain client firing chat callbacks itself
            manager = CallbackManager.configure(
                inheritable_callbacks=config.get("callbacks"),
                inheritable_metadata=config["metadata"],
                inheritable_tags=config.get("tags"),
            )
            [run] = manager.on_chat_model_start({"name": "raw"}, [msgs], run_id=uuid.uuid4())
            for tok in ("by ", "hand"):
                chunk = AIMessageChunk(content=tok, id="hand-1")
                run.on_llm_new_token(tok, chunk=ChatGenerationChunk(message=chunk))
            run.on_llm_end(LLMResult(generations=[[]]))
            return None
        if scenario == "nostream_model":
            return {"messages": [NoStreamFake().invoke(msgs)]}
        if scenario == "disable_streaming":
            return {"messages": [TokenFake(disable_streaming=True).invoke(msgs)]}
        if scenario == "nostream_tag":
            return {"messages": [TokenFake().with_config(tags=["nostream"]).invoke(msgs)]}
        if scenario == "nostream_tag_dropped":
            TokenFake().with_config(tags=["nostream"]).invoke(msgs)
            return None
        if scenario == "manual_no_ids":
            return {"messages": [AIMessage("manual"), ToolMessage("tool out", tool_call_id="c1")]}
        if scenario == "returns_input":
            return {"messages": msgs}
        if scenario == "command_update":
            return g.Command(update={"messages": [AIMessage("from command", id="cmd1")]})
        if scenario == "model_stream":
            out = None
            for chunk in TokenFake(tokens=["x", "y"]).stream(msgs):
                out = chunk if out is None else out + chunk
            return {"messages": [out]}
        if scenario == "provider_id":
            return {"messages": [TokenFake(msg_id="fixed-1").invoke(msgs)]}
        if scenario == "replace_input":
            return {"messages": [AIMessage("replace h1", id="h1")]}
        if scenario == "single_message":
            return {"messages": AIMessage("single", id="s1")}
        if scenario == "tags":
            return {"messages": [TokenFake().with_config(tags=["mt", "seq:step:9"]).invoke(msgs)]}
        if scenario == "tuples":
            return {"messages": [("ai", "ok-node")]}
        raise AssertionError(scenario)

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("n", node)
    builder.add_edge(g.START, "n")
    config = {"tags": ["runtag"]} if scenario == "tags" else None
    return builder.compile(), {"messages": [HumanMessage("hi", id="h1")]}, config


MSG_SCENARIOS = [
    "callbacks_by_hand",
    "nostream_model",
    "disable_streaming",
    "nostream_tag",
    "nostream_tag_dropped",
    "manual_no_ids",
    "returns_input",
    "command_update",
    "model_stream",
    "provider_id",
    "replace_input",
    "single_message",
    "tags",
    "tuples",
]


def sub_in_function(g: Any) -> Any:
    """A node that calls a compiled graph itself (not added as a node)."""
    model = TokenFake(tokens=["in", "ner"], msg_id="inner-1")

    def inner_llm(state: Any) -> dict[str, Any]:
        g.get_stream_writer()("inner custom")
        return {"messages": [model.invoke(state["messages"])]}

    sb = g.StateGraph(g.MessagesState)
    sb.add_node("inner_llm", inner_llm)
    sb.add_edge(g.START, "inner_llm")
    sub = sb.compile()

    def caller(state: Any) -> dict[str, Any]:
        out = sub.invoke(state)
        return {"messages": out["messages"][-1:]}

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("caller", caller)
    builder.add_edge(g.START, "caller")
    return builder.compile(), {"messages": [HumanMessage("hi", id="h1")]}, None


def nested_subgraphs(g: Any) -> Any:
    """Three levels: root -> mid (subgraph node) -> leaf (subgraph node)."""
    model = TokenFake(tokens=["deep"], msg_id="deep-1")

    def leaf_node(state: Any) -> dict[str, Any]:
        g.get_stream_writer()({"level": "leaf"})
        return {"messages": [model.invoke(state["messages"])]}

    lb = g.StateGraph(g.MessagesState)
    lb.add_node("leaf_node", leaf_node)
    lb.add_edge(g.START, "leaf_node")

    def mid_node(state: Any) -> dict[str, Any]:
        return {"messages": [AIMessage("mid", id="mid-1")]}

    mb = g.StateGraph(g.MessagesState)
    mb.add_node("mid_node", mid_node)
    mb.add_node("leaf", lb.compile())
    mb.add_edge(g.START, "mid_node")
    mb.add_edge("mid_node", "leaf")

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("mid", mb.compile())
    builder.add_edge(g.START, "mid")
    return builder.compile(), {"messages": [HumanMessage("hi", id="h1")]}, None


def parent_command(g: Any) -> Any:
    """A subgraph node hands off to a node of its parent with Command.PARENT."""

    def inner(state: S) -> Any:
        return g.Command(graph=g.Command.PARENT, update={"log": ["inner"]}, goto="done")

    sb = g.StateGraph(S)
    sb.add_node("inner", inner)
    sb.add_edge(g.START, "inner")

    def done(state: S) -> dict[str, Any]:
        return {"x": len(state["log"])}

    builder = g.StateGraph(S)
    builder.add_node("sub", sb.compile(), destinations=("done",))
    builder.add_node("done", done)
    builder.add_edge(g.START, "sub")
    return builder.compile(), {"x": 0, "log": []}, None


def send_to_subgraph(g: Any) -> Any:
    """Send fans out into a compiled subgraph node with its own input."""

    def work(state: FanState) -> dict[str, Any]:
        return {"results": [f"w{len(state['items'])}"]}

    sb = g.StateGraph(FanState)
    sb.add_node("work", work)
    sb.add_edge(g.START, "work")

    builder = g.StateGraph(FanState)
    builder.add_node("sub", sb.compile())
    builder.add_conditional_edges(
        g.START, lambda s: [g.Send("sub", {"items": ["only"], "results": []})]
    )
    return builder.compile(), {"items": ["a", "b"], "results": []}, None


def model_in_thread_pool(g: Any) -> Any:
    """A node fans model calls out to a thread pool: with the context copied they stream,
    without it only the node's returned messages reach ``messages`` mode (as LangGraph)."""
    import concurrent.futures
    import contextvars

    from langchain_core.runnables.config import ContextThreadPoolExecutor

    def node(state: Any) -> dict[str, Any]:
        msgs = state["messages"]
        with ContextThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(TokenFake(tokens=["p", "q"], msg_id="pool-1").invoke, msgs).result()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            ctx = contextvars.copy_context()
            second = pool.submit(
                ctx.run, TokenFake(tokens=["c"], msg_id="ctx-1").invoke, msgs
            ).result()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            third = pool.submit(TokenFake(tokens=["x", "y"], msg_id="bare-1").invoke, msgs).result()
        return {"messages": [first, second, third]}

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("node", node)
    builder.add_edge(g.START, "node")
    return builder.compile(), {"messages": [HumanMessage("hi", id="h1")]}, None
