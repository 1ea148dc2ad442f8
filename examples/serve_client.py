"""Stream a run from a ``streamtap.server`` with the official ``langgraph-sdk`` client.

Start the server first (``python examples/serve_graph.py``), then:

    python examples/serve_client.py [--url http://127.0.0.1:8123]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from langgraph_sdk import get_client


async def run(url: str) -> None:
    client = get_client(url=url, api_key=None)
    inputs: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    async for part in client.runs.stream(
        None,  # a stateless run ...
        "agent",  # ... of graph "agent"
        input=inputs,
        stream_mode=["messages-tuple", "updates"],
    ):
        if part.event == "messages":
            chunk, metadata = part.data  # the chunk as LangChain serialises it
            print(f"token from {metadata['langgraph_node']}: {chunk['content']!r}")
        elif part.event == "updates":
            for node, update in part.data.items():
                print(f"update from {node}: {update['messages'][-1]['content']!r}")
        elif part.event == "end":
            print("run ended:", part.data["status"])
        else:
            print("event:", part.event)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    asyncio.run(run(parser.parse_args().url))


if __name__ == "__main__":
    main()
