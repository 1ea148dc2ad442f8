"""langgraph.prebuilt on streamtap.graph: ToolNode, tools_condition, create_react_agent,
injected state / store / runtime, interrupts and Commands from tools.

Every graph is built twice, with LangGraph's imports (``langgraph.prebuilt`` on
``langgraph.graph``) and with streamtap's (``streamtap.graph.prebuilt`` on
``streamtap.graph``); LangGraph is the oracle for what streams out.

(No ``from __future__ import annotations``: the tools' annotations name each engine's
injection markers through a local variable, which langchain evaluates at tool creation.)
"""

import warnings
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Annotated, Any

import langgraph.graph as lg_graph
import langgraph.prebuilt as lg_prebuilt
import langgraph.types as lg_types
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from pydantic import Field
from typing_extensions import TypedDict

import streamtap.graph as st
import streamtap.graph.prebuilt as st_prebuilt
from streamtap.graph import _prebuilt_compat as compat
from tests.graph._normalize import normalize


def _engine(graph: Any, prebuilt: Any, types: Any) -> SimpleNamespace:
    return SimpleNamespace(
        StateGraph=graph.StateGraph,
        START=graph.START,
        END=graph.END,
        MessagesState=graph.MessagesState,
        Command=types.Command,
        Send=types.Send,
        interrupt=types.interrupt,
        ToolNode=prebuilt.ToolNode,
        tools_condition=prebuilt.tools_condition,
        create_react_agent=prebuilt.create_react_agent,
        InjectedState=prebuilt.InjectedState,
        InjectedStore=prebuilt.InjectedStore,
        ToolRuntime=prebuilt.ToolRuntime,
    )


ENGINES = {
    "langgraph": _engine(lg_graph, lg_prebuilt, lg_types),
    "streamtap": _engine(st, st_prebuilt, st),
}


def both(build: Any) -> tuple[Any, Any]:
    """The same scenario on both engines, normalized (LangGraph's result first)."""
    return normalize(build(ENGINES["langgraph"])), normalize(build(ENGINES["streamtap"]))


def _call(name: str, args: dict[str, Any], id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


class ScriptedModel(BaseChatModel):
    """Answers with the next scripted tool calls (then with none), echoing the last message."""

    script: list[list[dict[str, Any]]] = Field(default_factory=list)
    index: int = 0

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        calls = self.script[self.index] if self.index < len(self.script) else []
        self.index += 1
        reply = AIMessage(
            content=f"turn {self.index}: {messages[-1].content}",
            id=f"ai-{self.index}",
            tool_calls=calls,
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ScriptedModel":
        return self


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


ADD_THEN_ANSWER = [[_call("add", {"a": 1, "b": 2}, "c1"), _call("add", {"a": 3, "b": 4}, "c2")]]


def _updates(graph: Any, input: Any, config: dict[str, Any] | None = None) -> list[Any]:
    return list(graph.stream(input, config, stream_mode="updates"))


# --- the common agent: agent node + ToolNode + tools_condition -----------------------------
def test_the_common_agent_streams_as_on_langgraph() -> None:
    def run(e: Any) -> Any:
        model = ScriptedModel(script=ADD_THEN_ANSWER)

        def agent(state: Any) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        graph = (
            e.StateGraph(e.MessagesState)
            .add_node("agent", agent)
            .add_node("tools", e.ToolNode([add]))
            .add_edge(e.START, "agent")
            .add_conditional_edges("agent", e.tools_condition)
            .add_edge("tools", "agent")
            .compile()
        )
        return _updates(graph, {"messages": [HumanMessage("hi", id="h")]})

    lg, ours = both(run)
    assert ours == lg
    assert [next(iter(u)) for u in ours] == ["agent", "tools", "agent"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_create_react_agent_builds_a_streamtap_graph_that_runs_as_langgraphs(
    version: str,
) -> None:
    def run(e: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agent = e.create_react_agent(
                ScriptedModel(script=ADD_THEN_ANSWER),
                [add],
                version=version,
                checkpointer=InMemorySaver(),
            )
        config = {"configurable": {"thread_id": "t"}}
        updates = _updates(agent, {"messages": [HumanMessage("hi", id="h")]}, config)
        # v2 runs each tool call as its own task: they finish in either order
        steps = [
            (node, [m.content for m in u["messages"]]) for c in updates for node, u in c.items()
        ]
        final = agent.get_state(config).values
        return agent.__class__.__module__.split(".")[0], sorted(steps), final

    (lg_pkg, *lg), (st_pkg, *ours) = both(run)
    assert (lg_pkg, st_pkg) == ("langgraph", "streamtap")
    assert ours == lg
    assert [m[2]["content"] for m in ours[1]["messages"]] == [
        "hi",
        "turn 1: hi",
        "3",
        "7",
        "turn 2: 7",
    ]


def test_create_react_agent_stops_before_the_recursion_limit_as_langgraphs() -> None:
    """Its AgentState declares LangGraph's ``RemainingSteps``: the agent answers "need more
    steps" instead of failing with GraphRecursionError."""

    def run(e: Any) -> Any:
        script = [[_call("add", {"a": 1, "b": i}, f"c{i}")] for i in range(10)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agent = e.create_react_agent(ScriptedModel(script=script), [add])
        out = agent.invoke({"messages": [HumanMessage("hi", id="h")]}, {"recursion_limit": 6})
        return [m.content for m in out["messages"]]

    lg, ours = both(run)
    assert ours == lg
    assert ours[-1] == "Sorry, need more steps to process this request."


def test_create_react_agent_warns_as_langgraphs_and_keeps_its_signature() -> None:
    from langgraph.warnings import LangGraphDeprecatedSinceV10

    with pytest.warns(LangGraphDeprecatedSinceV10, match="create_react_agent has been moved"):
        agent = st_prebuilt.create_react_agent(ScriptedModel(), [add], name="helper")
    assert isinstance(agent, st.CompiledStateGraph) and agent.name == "helper"
    assert st_prebuilt.create_react_agent.__wrapped__ is compat_original()
    with (
        pytest.warns(LangGraphDeprecatedSinceV10),
        pytest.raises(TypeError, match=r"unexpected keyword arguments: \{'extra': 1\}"),
    ):
        st_prebuilt.create_react_agent(ScriptedModel(), [add], extra=1)


def compat_original() -> Any:
    import inspect

    from langgraph.prebuilt import chat_agent_executor

    return inspect.unwrap(chat_agent_executor.create_react_agent)


# --- what ToolNode reads from the config ---------------------------------------------------
class Notes(TypedDict):
    messages: Annotated[list[BaseMessage], lg_graph.add_messages]
    note: str


def _state_reader(e: Any, seen: list[Any]) -> Any:
    @tool
    def read_note(state: Annotated[dict[str, Any], e.InjectedState]) -> str:
        """Read the note from the state."""
        seen.append(state["note"])
        return state["note"]

    return read_note


def test_a_tool_call_sent_alone_reads_the_state_an_edge_would_give() -> None:
    """``Send("tools", [tool_call])`` carries no state: ToolNode reads it from the task's
    ``__pregel_read_state``."""

    def run(e: Any) -> Any:
        seen: list[Any] = []
        call = _call("read_note", {}, "c1")

        def agent(state: Any) -> dict[str, Any]:
            return {"messages": [AIMessage("", id="a", tool_calls=[call])], "note": "fresh"}

        graph = (
            e.StateGraph(Notes)
            .add_node("agent", agent)
            .add_node("tools", e.ToolNode([_state_reader(e, seen)]))
            .add_edge(e.START, "agent")
            .add_conditional_edges("agent", lambda s: [e.Send("tools", [call])], ["tools"])
            .compile()
        )
        out = graph.invoke({"messages": [], "note": "old"})
        return seen, out["messages"][-1].content

    lg, ours = both(run)
    assert ours == lg == ([["fresh"]][0], "fresh")


def test_a_tool_node_called_inside_a_sent_subgraph_reads_the_subgraph_state() -> None:
    def run(e: Any) -> Any:
        seen: list[Any] = []
        call = _call("read_note", {}, "c1")

        def call_tools(state: Any) -> dict[str, Any]:
            e.ToolNode([_state_reader(e, seen)]).invoke([call])
            return {}

        inner = e.StateGraph(Notes).add_node(call_tools).add_edge(e.START, "call_tools")
        outer = (
            e.StateGraph(Notes)
            .add_node("inner", inner.compile())
            .add_conditional_edges(
                e.START,
                lambda s: [e.Send("inner", {"messages": [], "note": "inner"})],
                ["inner"],
            )
            .compile()
        )
        outer.invoke({"messages": [], "note": "outer"})
        return seen

    lg, ours = both(run)
    assert ours == lg == ["inner"]


def test_store_context_and_runtime_reach_tools() -> None:
    def run(e: Any) -> Any:
        store = InMemoryStore()
        store.put(("users",), "u1", {"name": "Ada"})

        @tool
        def whoami(
            store: Annotated[Any, e.InjectedStore()], runtime: e.ToolRuntime[dict[str, Any], Any]
        ) -> str:
            """Who is asking."""
            user = runtime.context["user"]
            item = store.get(("users",), user)
            return f"{item.value['name']} via {runtime.tool_call_id}"

        graph = (
            e.StateGraph(e.MessagesState, context_schema=dict)
            .add_node("tools", e.ToolNode([whoami]))
            .add_edge(e.START, "tools")
            .compile(store=store)
        )
        ai = AIMessage("", id="a", tool_calls=[_call("whoami", {}, "c9")])
        out = graph.invoke({"messages": [ai]}, context={"user": "u1"})
        return out["messages"][-1].content

    lg, ours = both(run)
    assert ours == lg == "Ada via c9"


# --- control flow out of tools ------------------------------------------------------------
@pytest.mark.parametrize("handle_tool_errors", [True, False])
def test_an_interrupt_in_a_tool_pauses_the_run_whatever_handles_tool_errors(
    handle_tool_errors: bool,
) -> None:
    def run(e: Any) -> Any:
        @tool
        def ask() -> str:
            """Ask a human."""
            return f"human said {e.interrupt('approve?')}"

        graph = (
            e.StateGraph(e.MessagesState)
            .add_node("tools", e.ToolNode([ask], handle_tool_errors=handle_tool_errors))
            .add_edge(e.START, "tools")
            .compile(checkpointer=InMemorySaver())
        )
        config = {"configurable": {"thread_id": "t"}}
        ai = AIMessage("", id="a", tool_calls=[_call("ask", {}, "c1")])
        paused = graph.invoke({"messages": [ai]}, config)
        done = graph.invoke(e.Command(resume="yes"), config)
        return [i.value for i in paused["__interrupt__"]], done["messages"][-1].content

    lg, ours = both(run)
    assert ours == lg == (["approve?"], "human said yes")


def test_a_tool_returning_a_command_updates_the_state_and_routes() -> None:
    class Routed(TypedDict):
        messages: Annotated[list[BaseMessage], lg_graph.add_messages]
        route: str

    def run(e: Any) -> Any:
        @tool
        def transfer(tool_call_id: Annotated[str, InjectedToolCallId]) -> Any:
            """Hand over to the specialist."""
            done = ToolMessage("transferred", tool_call_id=tool_call_id)
            return e.Command(update={"messages": [done], "route": "specialist"}, goto="specialist")

        graph = (
            e.StateGraph(Routed)
            .add_node("tools", e.ToolNode([transfer]))
            .add_node("specialist", lambda s: {"route": s["route"] + " reached"})
            .add_edge(e.START, "tools")
            .compile()
        )
        ai = AIMessage("", id="a", tool_calls=[_call("transfer", {}, "c1")])
        return _updates(graph, {"messages": [ai], "route": ""})

    lg, ours = both(run)
    assert ours == lg
    assert ours[-1] == {"specialist": {"route": "specialist reached"}}


def test_a_parent_command_with_sends_from_tools_is_merged_in_the_tools_engine() -> None:
    """Two tools each hand over with ``Command(graph=PARENT, goto=[Send])``: ToolNode merges
    them into one parent command, of the engine its Sends belong to."""

    def run(e: Any) -> Any:
        @tool
        def hand_to(target: str) -> Any:
            """Hand over to ``target``."""
            return e.Command(graph=e.Command.PARENT, goto=[e.Send("worker", target)])

        class Seen(TypedDict):
            messages: Annotated[list[BaseMessage], lg_graph.add_messages]
            seen: Annotated[list[str], lambda a, b: a + b]

        inner = (
            e.StateGraph(Seen).add_node("tools", e.ToolNode([hand_to])).add_edge(e.START, "tools")
        )
        calls = [_call("hand_to", {"target": t}, f"c-{t}") for t in ("x", "y")]
        outer = (
            e.StateGraph(Seen)
            .add_node("inner", inner.compile())
            .add_node("worker", lambda target: {"seen": [target]})
            .add_edge(e.START, "inner")
            .compile()
        )
        out = outer.invoke({"messages": [AIMessage("", id="a", tool_calls=calls)], "seen": []})
        return sorted(out["seen"])

    lg, ours = both(run)
    assert ours == lg == ["x", "y"]


# --- the glue itself -----------------------------------------------------------------------
def test_either_name_stands_for_both_engines_classes() -> None:
    command = compat.either("Command", lg_types.Command, st.Command)
    assert isinstance(st.Command(goto="a"), command) and isinstance(lg_types.Command(), command)
    assert not isinstance("a", command)
    assert command.PARENT == "__parent__"
    assert type(command(goto=[st.Send("n", 1)])) is st.Command
    assert type(command(goto=[lg_types.Send("n", 1)])) is lg_types.Command
    assert type(command(goto="n")) is lg_types.Command


def test_a_langgraph_prebuilt_outside_the_tested_range_is_warned_about() -> None:
    with pytest.warns(RuntimeWarning, match=r"tested with langgraph-prebuilt >=1\.1,<1\.2; 1\.9"):
        compat.check_prebuilt(lambda package: "1.9.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat.check_prebuilt(lambda package: "1.1.3")
    assert compat._release("1.2rc1") == (1, 2) and compat._release("2") == (2, 0)


def test_importing_streamtap_graph_prebuilt_is_explicit() -> None:
    import subprocess
    import sys

    code = (
        "import sys, streamtap, streamtap.graph; "
        "print('langgraph.prebuilt' in sys.modules, 'streamtap.graph.prebuilt' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


KEPT_IMPORT = '''
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.prebuilt import ToolNode
from streamtap.graph import START, Command, InMemorySaver, MessagesState, StateGraph, interrupt

@tool
def ask() -> str:
    """Ask a human."""
    return f"human said {interrupt('approve?')}"

graph = (
    StateGraph(MessagesState)
    .add_node("tools", ToolNode([ask], handle_tool_errors=True))
    .add_edge(START, "tools")
    .compile(checkpointer=InMemorySaver())
)
config = {"configurable": {"thread_id": "t"}}
call = {"name": "ask", "args": {}, "id": "c1", "type": "tool_call"}
paused = graph.invoke({"messages": [AIMessage("", tool_calls=[call])]}, config)
print([i.value for i in paused["__interrupt__"]])
print(graph.invoke(Command(resume="yes"), config)["messages"][-1].content)
'''


def test_a_port_that_keeps_langgraph_prebuilt_imports_works_too() -> None:
    """``from langgraph.prebuilt import ToolNode`` left as it was: the first streamtap task
    after it is loaded adapts it (streamtap.graph.prebuilt is never imported)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", KEPT_IMPORT], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["['approve?']", "human said yes"]


# --- the tools stream mode ----------------------------------------------------------------
@tool
def countdown(n: int, runtime: lg_prebuilt.ToolRuntime) -> str:
    """Count down, streaming each number."""
    for i in range(n, 0, -1):
        runtime.emit_output_delta(str(i))
    return "liftoff"


@tool
def broken(x: int) -> str:
    """Always fails."""
    raise ValueError(f"no {x}")


def test_the_tools_mode_streams_tool_calls_as_on_langgraph() -> None:
    def run(e: Any) -> Any:
        model = ScriptedModel(
            script=[[_call("countdown", {"n": 2}, "c1"), _call("broken", {"x": 7}, "c2")]]
        )

        def agent(state: Any) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        graph = (
            e.StateGraph(e.MessagesState)
            .add_node("agent", agent)
            .add_node("tools", e.ToolNode([countdown, broken], handle_tool_errors=True))
            .add_edge(e.START, "agent")
            .add_conditional_edges("agent", e.tools_condition)
            .add_edge("tools", "agent")
            .compile()
        )
        parts = graph.stream({"messages": [HumanMessage("go", id="h")]}, stream_mode="tools")
        # the two calls run in parallel: order each call's own events, keep them whole
        return sorted((p["tool_call_id"], i, p) for i, p in enumerate(parts))

    lg, ours = both(run)
    assert ours == lg
    events = [(p["tool_call_id"], p["event"]) for _, _, p in ours]
    assert events == [
        ("c1", "tool-started"),
        ("c1", "tool-output-delta"),
        ("c1", "tool-output-delta"),
        ("c1", "tool-finished"),
        ("c2", "tool-started"),
        ("c2", "tool-error"),
    ]
