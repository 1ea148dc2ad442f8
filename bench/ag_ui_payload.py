"""Bytes on the wire of an AG-UI run whose tool returns 33.9 KB (issue 23's payload bound),
streamtap's ``/ag-ui/{graph_id}`` next to AG-UI's own LangGraph adapter.

    python -m bench.ag_ui_payload

The graph is ``tests/server/_ag_ui_graphs.py``'s ``big`` (LangGraph): the model says
"Looking." and calls ``fetch_big``, the tool returns ``BIG`` (33,900 bytes of JSON), the
model says "Done.". Content = the tool result + the texts + the tool arguments, in UTF-8
bytes. streamtap's side is the route's own fold and encoder over the run's protocol events
(what ``tests/server/test_ag_ui_payload.py`` counts through HTTP). The adapter's side
(``ag-ui-langgraph``'s ``LangGraphAgent``, defaults and ``emit_raw_events=False``) runs only
where that package is importable; it is not a dependency of streamtap (install it apart,
e.g. ``pip install --target DIR --no-deps ag-ui-langgraph ag-ui-a2ui-toolkit langchain
fastapi annotated-doc`` and ``PYTHONPATH=DIR``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from typing import Any

from ag_ui.core import RunAgentInput
from ag_ui.encoder import EventEncoder
from langgraph.checkpoint.memory import InMemorySaver

from streamtap.server._ag_ui_events import AgUiFold
from streamtap.server._proto_log import LoggedEvent
from streamtap.server._proto_run import run_events
from tests.server._ag_ui_graphs import BIG, graphs

CONTENT = len(BIG.encode()) + len(b"Looking.Done.") + len(b'{"n": 1}')


def _input(thread: str) -> RunAgentInput:
    return RunAgentInput(
        thread_id=thread,
        run_id="r1",
        state={},
        messages=[{"id": "u1", "role": "user", "content": "fetch it"}],
        tools=[],
        context=[],
        forwarded_props={},
    )


async def streamtap_bytes() -> tuple[int, dict[str, int]]:
    fold, encoder, wire, counts = AgUiFold("t", "r1"), EventEncoder(), b"", {}
    events = fold.start()
    seq = 0
    async for method, ns, data in run_events(
        graphs("lg")["lg_big"],
        {"messages": [{"role": "user", "content": "fetch it", "id": "u1"}]},
        {"configurable": {"thread_id": "bench"}},
        graph_name="big",
    ):
        seq += 1
        events += fold.feed(LoggedEvent(seq, str(seq), method, ns, data, b""))
    for event in events + fold.close():
        wire += encoder.encode(event).encode()
        counts[event.type.value] = counts.get(event.type.value, 0) + 1
    return len(wire), counts


async def adapter_bytes(raw: bool) -> tuple[int, dict[str, int]]:
    from ag_ui_langgraph import LangGraphAgent

    graph = graphs("lg")["lg_big"].builder.compile(checkpointer=InMemorySaver())
    agent = LangGraphAgent(name="big", graph=graph, emit_raw_events=raw)
    encoder, wire, counts = EventEncoder(), b"", {}
    async for event in agent.run(_input(f"raw-{raw}")):
        text: Any = event if isinstance(event, str) else encoder.encode(event)
        wire += text.encode()
        kind = json.loads(text[6:])["type"]
        counts[kind] = counts.get(kind, 0) + 1
    return len(wire), counts


def main() -> None:
    rows = [("streamtap /ag-ui", *asyncio.run(streamtap_bytes()))]
    if importlib.util.find_spec("ag_ui_langgraph") is not None:
        rows.append(("ag-ui-langgraph, defaults", *asyncio.run(adapter_bytes(True))))
        rows.append(("ag-ui-langgraph, emit_raw_events=False", *asyncio.run(adapter_bytes(False))))
    else:
        print("(ag-ui-langgraph not importable: only streamtap measured)")
    print(f"content: {CONTENT} bytes")
    for name, size, counts in rows:
        print(f"{name}: {size} bytes on the wire, {size / CONTENT:.2f}x  {counts}")


if __name__ == "__main__":
    main()
