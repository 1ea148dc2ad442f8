"""The engine end of "checkpoints are data, never code": what ``compile`` does to a saver,
and a tampered store met by ``get_state``, a resume and the server's read-only state route.

The serializer itself (every payload kind, every saver) is tested in
``test_checkpoint_safety.py``; these tests plant one payload through the stores it provides.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import ormsgpack
import pytest
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.jsonplus import EXT_CONSTRUCTOR_POS_ARGS, JsonPlusSerializer
from langgraph.types import Send
from pydantic import BaseModel

import streamtap.graph as st
from streamtap.graph.checkpoint.serde import StrictSerializer, is_hardened
from tests.graph.test_checkpoint_safety import EVIL, Store, _sh, store_of  # noqa: F401

THREAD = {"configurable": {"thread_id": "t1"}}


class Note(BaseModel):
    text: str


class State(TypedDict):
    messages: Annotated[list[AnyMessage], st.add_messages]
    notes: Annotated[list[Note], operator.add]


def _graph(saver: Any, **compile_kwargs: Any) -> Any:
    def ask(state: State) -> dict[str, Any]:
        answer = st.interrupt("ok?")
        return {"notes": [Note(text=answer)]}

    builder = st.StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(st.START, "ask")
    return builder.compile(checkpointer=saver, **compile_kwargs)


def test_compile_hardens_the_saver_with_the_schemas_types() -> None:
    saver = InMemorySaver()
    assert not is_hardened(saver)
    _graph(saver)
    assert is_hardened(saver)
    assert ("tests.graph.test_graph_checkpoint_safety", "Note") in saver.serde.allowed  # type: ignore[attr-defined]


def test_trust_checkpoints_leaves_the_serializer_alone() -> None:
    saver = InMemorySaver()
    serde = saver.serde
    _graph(saver, trust_checkpoints=True)
    assert saver.serde is serde and type(serde) is JsonPlusSerializer


def test_a_schema_type_round_trips_through_every_saver_kind(tmp_path: Path) -> None:
    saver = st.SqliteSaver(tmp_path / "t.sqlite")
    graph = _graph(saver)
    graph.invoke({"messages": [HumanMessage("hi", id="h")], "notes": [Note(text="a")]}, THREAD)
    out = graph.invoke(st.Command(resume="b"), THREAD)
    assert out["notes"] == [Note(text="a"), Note(text="b")]
    assert graph.get_state(THREAD).values["notes"] == [Note(text="a"), Note(text="b")]


def _os_system(marker: Path) -> Callable[[Any], tuple[str, bytes]]:
    """Encode a value with every ``EVIL`` replaced by a msgpack constructor naming ``os.system``."""
    evil = ormsgpack.Ext(
        EXT_CONSTRUCTOR_POS_ARGS, ormsgpack.packb(("os", "system", (_sh(marker),)))
    )

    def encode(value: Any) -> tuple[str, bytes]:
        def default(obj: Any) -> Any:
            return evil if obj is EVIL else jsonplus._msgpack_default(obj)

        return "msgpack", ormsgpack.packb(value, default=default, option=jsonplus._option)

    return encode


@pytest.mark.parametrize("place", ["checkpoint", "pending-write"])
async def test_a_tampered_thread_is_refused_by_get_state_and_resume(
    store_of: Callable[[], contextlib.AbstractAsyncContextManager[Store]],  # noqa: F811
    tmp_path: Path,
    place: str,
) -> None:
    marker = tmp_path / "pwned"
    async with store_of() as store:
        graph = _graph(store.saver)
        start = {"messages": [HumanMessage("hi", id="h")], "notes": []}
        if store.is_async:
            await graph.ainvoke(start, THREAD)
        else:
            graph.invoke(start, THREAD)
        tamper = store.tamper_value if place == "checkpoint" else store.tamper_write
        tamper(_os_system(marker))
        for attempt in ("get_state", "resume", "history"):
            with pytest.raises(st.UnsafeCheckpointError, match=r"os\.system"):
                if attempt == "get_state":
                    await graph.aget_state(THREAD)
                elif attempt == "resume":
                    await graph.ainvoke(st.Command(resume="x"), THREAD)
                else:
                    [s async for s in graph.aget_state_history(THREAD)]
            if not store.is_async:
                with pytest.raises(st.UnsafeCheckpointError):
                    graph.get_state(THREAD)
        assert not marker.exists()


def test_the_servers_state_route_refuses_a_tampered_thread(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from streamtap.server import create_app

    marker = tmp_path / "pwned"
    saver = InMemorySaver()
    graph = _graph(saver)
    app = create_app({"agent": graph}, checkpointer=saver)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        config = {"configurable": {"thread_id": thread}}
        graph.invoke({"messages": [HumanMessage("hi", id="h")], "notes": []}, config)
        assert client.get(f"/threads/{thread}/state").status_code == 200
        encode = _os_system(marker)
        for key in list(saver.blobs):
            if key[2] == "messages":
                saver.blobs[key] = encode([EVIL])
        response = client.get(f"/threads/{thread}/state")
    assert response.status_code >= 400
    assert "os.system" in response.text
    assert not marker.exists()


class Fan(TypedDict):
    items: list[str]
    done: Annotated[list[str], operator.add]


def test_a_strict_saver_shared_with_langgraph_still_runs_langgraph_sends() -> None:
    """Hardening a saver LangGraph also uses must not change what LangGraph reads back."""
    import langgraph.graph as lg

    def route(state: Fan) -> list[Send]:
        return [Send("work", {"items": [i], "done": []}) for i in state["items"]]

    builder = lg.StateGraph(Fan)
    builder.add_node("plan", lambda s: {})
    builder.add_node("work", lambda s: {"done": s["items"]})
    builder.add_edge(lg.START, "plan")
    builder.add_conditional_edges("plan", route, ["work"])
    saver = InMemorySaver()
    saver.serde = StrictSerializer()
    graph = builder.compile(checkpointer=saver, interrupt_before=["work"])
    graph.invoke({"items": ["a", "b"], "done": []}, THREAD)
    assert graph.invoke(None, THREAD)["done"] == ["a", "b"]
