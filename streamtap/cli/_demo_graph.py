"""The demo graphs: ``streamtap demo``, ``streamtap demo --web`` and ``streamtap chat``.

``joke_graph`` is the two-node example of LangGraph's streaming guide
(``refine_topic`` -> ``generate_joke``), here with a real model call in
``generate_joke`` and progress reported through ``get_stream_writer()``, so one run
shows every stream mode a UI cares about: tokens, node updates, custom events, state.
``web_chat_graph`` is the one-node chat behind the served chat page; ``chat_graph``
the one-shot chat of ``streamtap chat``. Demo code lives here, in the CLI, and
nowhere in the library.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from streamtap.graph import END, START, MessagesState, StateGraph, get_stream_writer

__all__ = ["JokeState", "chat_graph", "joke_graph", "web_chat_graph"]


class JokeState(TypedDict, total=False):
    topic: str
    joke: str


def joke_graph(model: BaseChatModel) -> Any:
    """START -> refine_topic -> generate_joke -> END; ``generate_joke`` streams the model."""

    def refine_topic(state: JokeState) -> JokeState:
        return {"topic": state["topic"] + " and cats"}

    def generate_joke(state: JokeState) -> JokeState:
        writer = get_stream_writer()
        topic = state["topic"]
        writer({"progress": "asking the model", "topic": topic})
        answer = model.invoke([HumanMessage(f"Generate a joke about {topic}")])
        joke = answer.text
        writer({"progress": "joke received", "characters": len(joke)})
        return {"joke": joke}

    builder = StateGraph(JokeState)
    builder.add_node("refine_topic", refine_topic)
    builder.add_node("generate_joke", generate_joke)
    builder.add_edge(START, "refine_topic")
    builder.add_edge("refine_topic", "generate_joke")
    builder.add_edge("generate_joke", END)
    return builder.compile()


def chat_graph(model: BaseChatModel, system: str | None = None) -> Any:
    """START -> chat -> END over ``MessagesState``: one streamed answer, as a graph.

    Running the one-shot chat through a graph is what gives ``streamtap chat`` the same
    ``--stream-mode`` choices (``messages``, ``updates``, ``values``, ...) as any graph.
    """
    prefix: list[BaseMessage] = [SystemMessage(system)] if system else []

    def chat(state: MessagesState) -> dict[str, list[AIMessage]]:
        answer = model.invoke([*prefix, *state["messages"]])
        return {"messages": [answer]}

    return _one_node_chat(chat)


def web_chat_graph(model: BaseChatModel) -> Any:
    """START -> chat -> END over ``MessagesState``; ``chat`` streams the model's answer.

    Async, with a custom progress event before and after the answer, for the chat page.
    """

    async def chat(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"progress": 0})
        answer = await model.ainvoke(state["messages"])
        get_stream_writer()({"progress": 100})
        return {"messages": [answer]}

    return _one_node_chat(chat)


def _one_node_chat(chat: Any) -> Any:
    """START -> chat -> END over ``MessagesState``."""
    builder = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder.compile()
