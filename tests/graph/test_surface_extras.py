"""LangGraph's smaller public surface, with LangGraph as the oracle on the same graphs:
interrupt(response_schema=), push_message, add_messages(format=), MessageGraph, the
deprecation warnings, debug=True / print_mode=, checkpoint_during=, GraphOutput's dict
access, ParentCommand and the deprecated config_schema()."""

from __future__ import annotations

import asyncio
import operator
import re
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ValidationError
from typing_extensions import TypedDict


def _engine(name: str) -> SimpleNamespace:
    if name == "langgraph":
        import langgraph.constants as constants
        import langgraph.errors as errors
        import langgraph.graph as graph
        import langgraph.graph.message as message
        import langgraph.types as types
        import langgraph.warnings as warns
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.types import interrupt
    else:
        import streamtap.graph as graph
        import streamtap.graph.constants as constants
        import streamtap.graph.errors as errors
        import streamtap.graph.message as message
        import streamtap.graph.types as types
        import streamtap.graph.warnings as warns
        from streamtap.graph import InMemorySaver, interrupt
    return SimpleNamespace(
        name=name,
        graph=graph,
        message=message,
        types=types,
        errors=errors,
        warnings=warns,
        constants=constants,
        InMemorySaver=InMemorySaver,
        interrupt=interrupt,
    )


ENGINES = {name: _engine(name) for name in ("langgraph", "streamtap")}
LG, ST = ENGINES["langgraph"], ENGINES["streamtap"]
both = pytest.mark.parametrize("e", [LG, ST], ids=["langgraph", "streamtap"])
CONFIG: Any = {"configurable": {"thread_id": "1"}}


def on_both(run: Any) -> Any:
    """``run(engine)`` on LangGraph and on streamtap.graph; asserts they agree."""
    expected, got = run(LG), run(ST)
    assert got == expected
    return got


# --------------------------------------------------------------- interrupt(response_schema=)


class Decision(BaseModel):
    approved: bool
    note: str | None = None


class DecisionDict(TypedDict):
    approved: bool


@dataclass
class DecisionData:
    approved: bool


class Answer(TypedDict):
    answer: Any


def _asking(e: SimpleNamespace, schema: Any) -> Any:
    def node(state: Answer) -> Answer:
        return {"answer": e.interrupt({"q": "approve?"}, response_schema=schema)}

    g = e.graph
    return (
        g.StateGraph(Answer)
        .add_node("node", node)
        .add_edge(g.START, "node")
        .compile(checkpointer=e.InMemorySaver())
    )


@pytest.mark.parametrize(
    "schema",
    [None, {"type": "object"}, Decision, DecisionDict, DecisionData],
    ids=["none", "raw", "pydantic", "typeddict", "dataclass"],
)
def test_the_schema_is_surfaced_and_the_resume_validated(schema: Any) -> None:
    def run(e: SimpleNamespace) -> Any:
        graph = _asking(e, schema)
        paused = graph.invoke({"answer": None}, CONFIG)["__interrupt__"][0]
        snapshot = graph.get_state(CONFIG).tasks[0].interrupts[0]
        done = graph.invoke(e.types.Command(resume={"approved": True, "extra": 1}), CONFIG)
        return paused.value, paused.response_schema, snapshot.response_schema, done

    _, surfaced, saved, done = on_both(run)
    assert surfaced == saved
    if schema is Decision:
        assert done == {"answer": Decision(approved=True)}


@pytest.mark.parametrize("by_id", [False, True], ids=["bare", "by_id"])
def test_an_invalid_resume_raises_marked_and_can_be_answered_again(by_id: bool) -> None:
    def run(e: SimpleNamespace) -> Any:
        graph = _asking(e, Decision)
        graph.invoke({"answer": None}, CONFIG)
        [pending] = graph.get_state(CONFIG).tasks[0].interrupts

        def resume(value: Any) -> Any:
            return e.types.Command(resume={pending.id: value} if by_id else value)

        with pytest.raises(ValidationError, match="approved") as caught:
            graph.invoke(resume({"approved": "nope"}), CONFIG)
        marked = e.errors.is_invalid_resume(caught.value)
        still = [i.value for i in graph.get_state(CONFIG).interrupts]
        return marked, still, graph.invoke(resume({"approved": False}), CONFIG)

    assert on_both(run) == (True, [{"q": "approve?"}], {"answer": Decision(approved=False)})


def test_is_invalid_resume_is_only_true_for_a_marked_error() -> None:
    with pytest.raises(ValidationError) as caught:
        Decision.model_validate({"approved": "nope"})
    assert not ST.errors.is_invalid_resume(caught.value)
    assert not ST.errors.is_invalid_resume(ValueError("nope"))


def test_langgraphs_is_invalid_resume_reads_streamtaps_mark() -> None:
    """langgraph.prebuilt's ToolNode asks LangGraph's function, so the mark is LangGraph's."""
    graph = _asking(ST, Decision)
    graph.invoke({"answer": None}, CONFIG)
    with pytest.raises(ValidationError) as caught:
        graph.invoke(ST.types.Command(resume={"approved": "nope"}), CONFIG)
    assert LG.errors.is_invalid_resume(caught.value)


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


async def test_an_invalid_resume_lets_the_other_answered_task_finish() -> None:
    async def run(e: SimpleNamespace) -> Any:
        sent: list[str] = []

        async def send(state: Log) -> Log:
            e.interrupt("send?", response_schema=Decision)
            sent.append("email")
            await asyncio.sleep(0.05)  # the invalid answer fails the step meanwhile
            return {"log": ["sent"]}

        async def check(state: Log) -> Log:
            e.interrupt("check?", response_schema=Decision)
            return {"log": ["checked"]}

        g = e.graph
        graph = (
            g.StateGraph(Log)
            .add_node("send", send)
            .add_node("check", check)
            .add_edge(g.START, "send")
            .add_edge(g.START, "check")
            .compile(checkpointer=e.InMemorySaver())
        )
        await graph.ainvoke({"log": []}, CONFIG)
        ids = {i.value: i.id for i in (await graph.aget_state(CONFIG)).interrupts}
        bad = {ids["send?"]: {"approved": True}, ids["check?"]: {"approved": "nope"}}
        with pytest.raises(ValidationError):
            await graph.ainvoke(e.types.Command(resume=bad), CONFIG)
        pending = [i.value for i in (await graph.aget_state(CONFIG)).interrupts]
        out = await graph.ainvoke(
            e.types.Command(resume={ids["check?"]: {"approved": True}}), CONFIG
        )
        return pending, sorted(out["log"]), sent

    expected = await run(LG)
    assert await run(ST) == expected == (["check?"], ["checked", "sent"], ["email"])


# --------------------------------------------------------------------------- messages


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], ST.message.add_messages]


def _pushing_graph(e: SimpleNamespace, state_key: str | None) -> Any:
    def chat(state: Any) -> dict[str, Any]:
        with pytest.raises(ValueError, match="Message ID is required"):
            e.message.push_message(AIMessage(content="no id"))
        e.message.push_message(AIMessage(content="first", id="1"), state_key=state_key)
        e.message.push_message(HumanMessage(content="second", id="2"), state_key=state_key)
        return {"messages": [AIMessage(content="returned", id="3")]}

    g = e.graph
    return g.StateGraph(g.MessagesState).add_node(chat).add_edge(g.START, "chat").compile()


@pytest.mark.parametrize("state_key", ["messages", None])
def test_push_message_streams_at_once_and_writes_the_state(state_key: str | None) -> None:
    def run(e: SimpleNamespace) -> Any:
        parts = list(
            _pushing_graph(e, state_key).stream(
                {"messages": []}, stream_mode=["messages", "values"]
            )
        )
        streamed = [
            (p[1][0].id, p[1][0].content, p[1][1]["langgraph_node"])
            for p in parts
            if p[0] == "messages"
        ]
        final = [m.id for m in parts[-1][1]["messages"]]
        return streamed, final

    streamed, final = on_both(run)
    assert [s[0] for s in streamed] == ["1", "2", "3"]
    assert final == (["1", "2", "3"] if state_key else ["3"])


def test_a_pushed_message_streams_under_its_graphs_namespace() -> None:
    def run(e: SimpleNamespace) -> Any:
        g = e.graph
        sub = _pushing_graph(e, None)
        parent = g.StateGraph(g.MessagesState).add_node("sub", sub).add_edge(g.START, "sub")
        out = []
        for subgraphs in (False, True):
            parts = parent.compile().stream(
                {"messages": []}, stream_mode="messages", subgraphs=subgraphs, version="v2"
            )
            out.append([(tuple(s.split(":")[0] for s in p["ns"]), p["data"][0].id) for p in parts])
        return out

    # the returned message reaches the parent through the subgraph's output too
    assert on_both(run)[1][:2] == [(("sub",), "1"), (("sub",), "2")]


def test_add_messages_openai_format() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "1234"},
    }
    content = [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}}, image]

    def run(e: SimpleNamespace) -> Any:
        reducer = e.message.add_messages(format="langchain-openai")
        # functional syntax: a class body's annotations could not see ``reducer``
        State = TypedDict("State", {"messages": Annotated[list[AnyMessage], reducer]})  # noqa: UP013

        g = e.graph
        graph = (
            g.StateGraph(State)
            .add_node("n", lambda s: {"messages": [{"role": "user", "content": content}]})
            .add_edge(g.START, "n")
            .compile()
        )
        return [(type(m).__name__, m.content) for m in graph.invoke({"messages": []})["messages"]]

    assert on_both(run)[0][1][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/jpeg;base64,1234"},
    }


@both
def test_add_messages_refuses_what_langgraphs_refuses(e: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match=r"Unrecognized format='bad'\. Expected one of"):
        e.message.add_messages([], [], format="bad")
    with pytest.raises(ValueError, match="Only received: 'left'"):
        e.message.add_messages([HumanMessage("x")], None)


def test_message_graph_warns_and_keeps_one_list_of_messages() -> None:
    def run(e: SimpleNamespace) -> Any:
        with pytest.warns(e.warnings.LangGraphDeprecatedSinceV10) as caught:
            builder = e.message.MessageGraph()
        builder.add_node("bot", lambda msgs: [("assistant", f"got {len(msgs)}")])
        builder.add_edge(e.graph.START, "bot")
        out = builder.compile().invoke([("user", "hi")])
        return str(caught[0].message), [(m.type, m.content) for m in out]

    on_both(run)


# ------------------------------------------------------------------------ deprecations


class Plain(TypedDict):
    x: int


def _warned(e: SimpleNamespace, since: str, action: Any) -> str:
    cls = getattr(e.warnings, f"LangGraphDeprecatedSince{since}")
    with pytest.warns(cls) as caught:
        action()
    return str(next(w.message for w in caught if issubclass(w.category, cls)))


def test_renamed_graph_keywords_warn_and_still_work() -> None:
    def run(e: SimpleNamespace) -> Any:
        g = e.graph
        out: list[Any] = []
        for old in ("input", "output"):
            out.append(_warned(e, "V05", lambda old=old: g.StateGraph(Plain, **{old: Plain})))
        holder: dict[str, Any] = {}
        out.append(
            _warned(
                e,
                "V10",
                lambda: holder.update(b=g.StateGraph(Plain, config_schema=Plain)),
            )
        )
        out.append(holder["b"].context_schema is Plain)
        builder = g.StateGraph(Plain)
        out.append(_warned(e, "V05", lambda: builder.add_node("n", lambda s: s, input=Plain)))
        builder.add_edge(g.START, "n")
        graph = builder.compile()
        out.append(_warned(e, "V10", lambda: holder.update(m=graph.config_schema())))
        out.append(holder["m"].model_json_schema())
        out.append(_warned(e, "V10", lambda: holder.update(j=graph.get_config_jsonschema())))
        out.append(holder["j"])
        return out

    on_both(run)


def test_streamtaps_deprecations_are_caught_as_langgraphs_when_langgraph_is_installed() -> None:
    import langgraph.warnings as lg

    import streamtap.graph as st
    from streamtap.graph import warnings as st_warnings

    # a filter written against langgraph.warnings (langgraph.prebuilt's, a user's) catches
    # streamtap's warning, and streamtap's own class still does
    for category in (lg.LangGraphDeprecatedSinceV10, st_warnings.LangGraphDeprecatedSinceV10):
        with pytest.warns(category, match="`config_schema` is deprecated"):
            st.StateGraph(Plain, config_schema=Plain)
    warning = st_warnings.LangGraphDeprecatedSinceV05("old.")
    assert isinstance(warning, lg.LangGraphDeprecationWarning)
    assert not isinstance(warning, lg.LangGraphDeprecatedSinceV10)
    assert (str(warning), warning.since) == (str(lg.LangGraphDeprecatedSinceV05("old.")), (0, 5))
    assert st_warnings._langgraph_twin("NoSuchWarning") == ()


def test_interrupt_graph_output_and_node_interrupt_deprecations() -> None:
    def run(e: SimpleNamespace) -> Any:
        t = e.types
        interrupt = t.Interrupt(value="q", id="abc")
        output = t.GraphOutput(value={"foo": "bar"}, interrupts=(interrupt,))
        holder: dict[str, Any] = {}
        return [
            _warned(e, "V10", lambda: holder.update(id=interrupt.interrupt_id)),
            holder["id"],
            _warned(e, "V11", lambda: holder.update(v=output["foo"])),
            _warned(e, "V11", lambda: holder.update(i=output["__interrupt__"])),
            _warned(e, "V11", lambda: holder.update(c="foo" in output)),
            holder["v"],
            holder["i"] == (interrupt,),
            holder["c"],
            _warned(e, "V10", lambda: holder.update(n=e.errors.NodeInterrupt("stop"))),
            holder["n"].args[0][0].value,
            t.Interrupt.from_ns("v", "node:1").id,
            t.Interrupt("v", ns=["a:1", "b:2"]).id,
        ]

    on_both(run)


def test_deprecated_constants_warn() -> None:
    def run(e: SimpleNamespace) -> Any:
        holder: dict[str, Any] = {}
        messages = [
            _warned(e, "V10", lambda n=n: holder.update({n: getattr(e.constants, n)}))
            for n in ("Send", "Interrupt", "PREVIOUS")
        ]
        return messages, holder["PREVIOUS"], holder["Send"].__name__, e.constants.END

    on_both(run)
    assert ST.constants.Send is ST.types.Send


class Durable(TypedDict, total=False):
    durability: str


@pytest.mark.parametrize("during", [True, False])
def test_checkpoint_during_is_durability(during: bool) -> None:
    def run(e: SimpleNamespace) -> Any:
        def node(state: Durable, config: RunnableConfig) -> Durable:
            return {"durability": config["configurable"]["__pregel_durability"]}

        g = e.graph
        graph = g.StateGraph(Durable).add_node("n", node).add_edge(g.START, "n").compile()
        holder: dict[str, Any] = {}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`durability` has no effect")
            message = _warned(
                e, "V10", lambda: holder.update(r=graph.invoke({}, checkpoint_during=during))
            )
            with pytest.raises(ValueError, match="Cannot use both"):
                graph.invoke({}, checkpoint_during=during, durability="sync")
        return message, holder["r"]

    assert on_both(run)[1] == {"durability": "async" if during else "exit"}


# ---------------------------------------------------------------- printing (debug=True)


def _printing_graph(e: SimpleNamespace, debug: bool = False) -> Any:
    g = e.graph

    def ask(state: Log) -> Log:
        return {"log": [f"asked:{e.interrupt('ok?')}"]}

    sub = g.StateGraph(Log).add_node("inner", lambda s: {"log": ["inner"]})
    sub.add_edge(g.START, "inner")
    builder = g.StateGraph(Log).add_node("sub", sub.compile()).add_node("ask", ask)
    builder.add_edge(g.START, "sub").add_edge("sub", "ask")
    return builder.compile(checkpointer=e.InMemorySaver(), debug=debug)


@pytest.mark.parametrize(
    "call",
    [
        {"debug": True},
        {"print_mode": "values"},
        {"print_mode": ["updates", "custom"], "subgraphs": True},
        {"print_mode": "updates", "version": "v2", "subgraphs": True},
        {"compiled_debug": True},
    ],
    ids=["debug", "values", "subgraphs", "v2", "compile-debug"],
)
def test_printed_like_langgraph(call: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    def run(e: SimpleNamespace) -> Any:
        kwargs = dict(call)
        graph = _printing_graph(e, debug=kwargs.pop("compiled_debug", False))
        config: Any = {"configurable": {"thread_id": e.name}}
        first = graph.invoke({"log": []}, config, **kwargs)
        streamed = list(graph.stream(e.types.Command(resume="yes"), config, **kwargs))
        printed = capsys.readouterr().out
        # ids (of tasks, so of interrupts and subgraph namespaces) differ from run to run
        return _without_ids(repr(first)), _without_ids(repr(streamed)), _without_ids(printed)

    printed = on_both(run)[2]
    assert "\x1b[1m[" in printed


def _without_ids(text: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{32}", "<id>", text)


# ------------------------------------------------------------------- other names


def test_a_command_to_the_parent_of_the_root_raises_parent_command() -> None:
    def run(e: SimpleNamespace) -> Any:
        g, t = e.graph, e.types
        graph = (
            g.StateGraph(Plain)
            .add_node("n", lambda s: t.Command(graph=t.Command.PARENT, goto="x", update={"x": 1}))
            .add_edge(g.START, "n")
            .compile()
        )
        with pytest.raises(e.errors.ParentCommand) as caught:
            graph.invoke({"x": 0})
        assert isinstance(caught.value, e.errors.GraphBubbleUp)
        return caught.value.args[0].goto, caught.value.args[0].update

    assert on_both(run) == ("x", {"x": 1})


def test_invoke_v2_returns_a_graph_output_readable_as_a_dict() -> None:
    def run(e: SimpleNamespace) -> Any:
        g = e.graph
        graph = g.StateGraph(Plain).add_node("n", lambda s: {"x": 2}).add_edge(g.START, "n")
        out = graph.compile().invoke({"x": 1}, version="v2")
        assert isinstance(out, e.types.GraphOutput)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return out.value, out.interrupts, out["x"], "x" in out, "__interrupt__" in out

    assert on_both(run) == ({"x": 2}, (), 2, True, False)


def test_the_public_names_of_langgraphs_types_and_errors_exist() -> None:
    """From ``streamtap.graph`` or its same-named module (the typing names of
    ``langgraph.types`` only from the package: they sit above ``streamtap.graph.types``)."""
    internal = {"PregelExecutableTask", "TracePolicy", "omit_payload"}  # not streamtap's
    for module in ("types", "errors"):
        offered = set(dir(getattr(ST, module))) | set(dir(ST.graph))
        assert sorted(set(getattr(LG, module).__all__) - offered - internal) == []
    assert ST.errors.EmptyChannelError is LG.errors.EmptyChannelError


def typing_names(e: SimpleNamespace) -> Any:
    return e.types if e is LG else e.graph


def test_error_helpers_read_as_langgraphs() -> None:
    def run(e: SimpleNamespace) -> Any:
        code = e.errors.ErrorCode.INVALID_CONCURRENT_GRAPH_UPDATE
        with pytest.raises(TypeError) as caught:
            typing_names(e).ensure_valid_checkpointer("nope")
        strict = e.errors.UnknownInterruptError("m", reason="ambiguous", pending_ids=["a"])
        return (
            e.errors.create_error_message(message="boom", error_code=code),
            str(caught.value),
            typing_names(e).ensure_valid_checkpointer(True),
            (strict.reason, strict.interrupt_ids, strict.pending_ids),
        )

    on_both(run)
