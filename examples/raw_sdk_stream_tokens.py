"""A raw ``openai`` SDK stream inside a graph node, turned into ``messages`` tokens.

``stream_tokens`` wraps the SDK's own ``Stream``: the node reads normalized
``AIMessageChunk``s, and the graph's ``messages`` mode gets the same
``(chunk, metadata)`` pairs a LangChain chat model would give, ``ls_*`` keys included.

    OPENAI_API_KEY=... python examples/raw_sdk_stream_tokens.py
    python examples/replay.py examples/raw_sdk_stream_tokens.py      # offline, from the cassette
"""

from __future__ import annotations

from typing import Any

import openai

from streamtap.graph import END, START, MessagesState, StateGraph
from streamtap.middleware import stream_tokens

client = openai.OpenAI()


def agent(state: MessagesState) -> dict[str, Any]:
    question = state["messages"][-1].text
    raw = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream_tokens(raw) as tokens:  # the provider is detected from the SDK stream
        for _chunk in tokens:  # normalized AIMessageChunks, streamed as they arrive
            pass  # the graph's "messages" mode already has each one
    return {"messages": [tokens.message]}  # same id as the streamed chunks: not emitted twice


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_edge(START, "agent")
builder.add_edge("agent", END)
graph = builder.compile()


def main() -> None:
    inputs = {"messages": [("user", "What is a token?")]}
    for chunk, meta in graph.stream(inputs, stream_mode="messages"):
        print(chunk.content, end="|", flush=True)  # "|" marks the chunk boundaries
        if chunk.usage_metadata:
            print()
            print("provider:", meta["ls_provider"], "model:", meta["ls_model_name"])
            print("usage:", chunk.usage_metadata)
            print("message id:", chunk.id)


if __name__ == "__main__":
    main()
