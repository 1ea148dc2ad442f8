"""Serve a graph over LangGraph Platform's run-stream API with ``streamtap.server``.

The official ``langgraph-sdk`` client (see ``serve_client.py``), LangGraph frontends and the
chat page at ``GET /`` talk to it unchanged.

    ANTHROPIC_API_KEY=... python examples/serve_graph.py            # http://127.0.0.1:8123/
    python examples/serve_client.py                                 # in another shell
    python examples/replay.py examples/serve_graph.py               # serve offline, from the cassette

The CLI serves the same graph too, under the graph id ``graph`` (the attribute's name):
``cd examples && streamtap serve serve_graph:graph``.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

import streamtap
from streamtap.graph import END, START, MessagesState, StateGraph
from streamtap.server import create_app

model = streamtap.chat_model("anthropic:claude-sonnet-4-6")


def call_model(state: MessagesState) -> dict[str, Any]:
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("llm", call_model)
builder.add_edge(START, "llm")
builder.add_edge("llm", END)
graph = builder.compile()

app = create_app(
    {"agent": graph},  # graph id -> compiled graph (streamtap.graph or LangGraph)
    checkpointer=None,  # default: the graph's own, else an in-memory saver
    api_token=None,  # require Authorization: Bearer <token>
    cors_origins=(),  # browser origins allowed to call the API
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
