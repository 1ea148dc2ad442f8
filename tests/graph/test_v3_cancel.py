"""Cancelling the consumer of a streamtap.graph run's ``astream_events(version="v3")``
while a node waits: LangGraph's run stream pulls each part in a task of its own, and the
node runs inline in whichever pull task steps it. A part that arrived with the cancel
must not be handed on before the node saw the cancel, or the pull returns normally, the
cancel is swallowed, and the node goes on in the next pull task, which nobody cancelled:
its ``CancelledError`` then reads as the node's own (``NodeCancelledError``) and the run
fails instead of being cancelled. (Seen as a ``useStream`` ``stop()`` ending the
server's run in ``error``: tests/server/test_use_stream_v1.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamtap.graph import END, START, MessagesState, StateGraph, get_stream_writer


async def test_a_cancel_that_comes_with_a_part_cancels_the_run() -> None:
    consumer: asyncio.Task[Any] | None = None
    seen: list[Any] = []
    node_saw: list[str] = []

    async def produce() -> None:
        get_stream_writer()({"progress": 1})
        assert consumer is not None
        consumer.cancel()  # in the same loop turn as the part: both wake the runner
        await asyncio.sleep(10)

    async def agent(state: MessagesState) -> dict[str, Any]:
        try:
            await asyncio.gather(produce())
        except asyncio.CancelledError:
            node_saw.append("cancelled")
            raise
        return {}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    graph = builder.compile()

    async def consume() -> None:
        from langgraph.stream.transformers import CustomTransformer

        run = await graph.astream_events(
            {"messages": []}, version="v3", transformers=[CustomTransformer]
        )
        async for event in run:
            seen.append(event["method"])

    consumer = asyncio.create_task(consume())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(consumer, 5)
    assert consumer.cancelled()
    assert node_saw == ["cancelled"]
