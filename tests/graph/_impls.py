"""The two implementations under comparison, behind one namespace each.

Graph code in the parity tests is written once against ``g.StateGraph``,
``g.Command``, ... and run with ``g`` = streamtap.graph and ``g`` = langgraph.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def _streamtap() -> SimpleNamespace:
    import streamtap.graph as st
    from streamtap.graph.func import entrypoint, task

    return SimpleNamespace(
        name="streamtap",
        entrypoint=entrypoint,
        task=task,
        StateGraph=st.StateGraph,
        START=st.START,
        END=st.END,
        MessagesState=st.MessagesState,
        add_messages=st.add_messages,
        Command=st.Command,
        Send=st.Send,
        interrupt=st.interrupt,
        get_stream_writer=st.get_stream_writer,
        InMemorySaver=st.InMemorySaver,
        GraphRecursionError=st.GraphRecursionError,
        InvalidUpdateError=st.InvalidUpdateError,
    )


def _langgraph() -> SimpleNamespace:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.config import get_stream_writer
    from langgraph.errors import GraphRecursionError, InvalidUpdateError
    from langgraph.func import entrypoint, task
    from langgraph.graph import END, START, MessagesState, StateGraph, add_messages
    from langgraph.types import Command, Send, interrupt

    return SimpleNamespace(
        name="langgraph",
        entrypoint=entrypoint,
        task=task,
        StateGraph=StateGraph,
        START=START,
        END=END,
        MessagesState=MessagesState,
        add_messages=add_messages,
        Command=Command,
        Send=Send,
        interrupt=interrupt,
        get_stream_writer=get_stream_writer,
        InMemorySaver=InMemorySaver,
        GraphRecursionError=GraphRecursionError,
        InvalidUpdateError=InvalidUpdateError,
    )


_CACHE: dict[str, SimpleNamespace] = {}


def impl(name: str) -> Any:
    if name not in _CACHE:
        _CACHE[name] = _streamtap() if name == "streamtap" else _langgraph()
    return _CACHE[name]


ST = "streamtap"
LG = "langgraph"
