"""The server's ``error`` events mask every credential shape errors and cassettes mask."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import get_client

from streamtap._secrets import PATTERNS
from streamtap.graph import END, START, MessagesState, StateGraph
from tests.testing._secret_samples import SAMPLES


def _failing_graph() -> Any:
    """One node that fails with the user's message as its error text."""

    async def fail(state: MessagesState) -> dict[str, Any]:
        raise RuntimeError(f"upstream said: {state['messages'][-1].content}")

    builder = StateGraph(MessagesState)
    builder.add_node("fail", fail)
    builder.add_edge(START, "fail")
    builder.add_edge("fail", END)
    return builder.compile()


@pytest.mark.parametrize("kind", [kind for kind, _ in PATTERNS])
async def test_error_event_masks_every_shape(serve: Any, kind: str) -> None:
    text, secret = SAMPLES[kind]
    server = serve({"agent": _failing_graph()})
    client = get_client(url=server.url, api_key=None)
    parts = [
        p
        async for p in client.runs.stream(
            None, "agent", input={"messages": [{"role": "user", "content": text}]}
        )
    ]
    errors = [p.data for p in parts if p.event == "error"]
    assert len(errors) == 1
    assert errors[0]["error"] == "RuntimeError"
    assert "upstream said" in errors[0]["message"]
    assert secret not in errors[0]["message"]
