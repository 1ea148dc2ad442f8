"""Stream a graph: a chat-model node's tokens (``messages``) and each node's update (``updates``).

``streamtap.graph`` streams like LangGraph: with a list of modes every item is
``(mode, payload)``; a node's tokens arrive while it runs, before its update.

    ANTHROPIC_API_KEY=... python examples/stream_graph.py
    python examples/replay.py examples/stream_graph.py      # offline, from the cassette
"""

from __future__ import annotations

from typing import Any

import streamtap
from streamtap.graph import END, START, MessagesState, StateGraph

model = streamtap.chat_model("anthropic:claude-sonnet-4-6")  # or any LangChain chat model


def call_model(state: MessagesState) -> dict[str, Any]:
    # invoke() streams token by token when the caller asks for "messages"
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("llm", call_model)
builder.add_edge(START, "llm")
builder.add_edge("llm", END)
graph = builder.compile()


def main() -> None:
    inputs = {"messages": [("user", "Name three rivers, briefly")]}
    for mode, payload in graph.stream(inputs, stream_mode=["messages", "updates"]):
        if mode == "messages":
            chunk, metadata = payload
            print(f"{metadata['langgraph_node']}: {chunk.content!r}")
        else:  # "updates": {node: the state update it returned}
            for node, update in payload.items():
                message = update["messages"][-1]
                print(f"update from {node}: {message.text!r}")
                print(f"  usage: {message.usage_metadata}")


if __name__ == "__main__":
    main()
