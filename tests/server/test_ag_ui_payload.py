"""The payload bound of issue 23: in a run whose tool returns a 33.9 KB result, the bytes
on the wire for the whole AG-UI run are at most 1.2x the bytes of its content (the tool
result, the texts, the tool arguments), counted exactly, on both engines. (AG-UI's own
LangGraph adapter sends the result many times over: ag-ui-protocol/ag-ui#2600.)"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from streamtap.server import create_app
from tests.server._ag_ui_graphs import BIG, graphs
from tests.server._support import LiveServer

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(create_app({**graphs("st"), **graphs("lg")})) as live:
        yield live


@pytest.mark.parametrize("engine", ["st", "lg"])
def test_wire_bytes_at_most_1_2x_the_content(server: LiveServer, engine: str) -> None:
    body = {
        "threadId": f"payload-{engine}",
        "runId": "r1",
        "messages": [{"id": "u1", "role": "user", "content": "fetch it"}],
    }
    wire = b""
    with httpx.stream("POST", f"{server.url}/ag-ui/{engine}_big", json=body, timeout=30) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            wire += chunk
    events = [json.loads(line[6:]) for line in wire.decode().split("\n\n") if line]
    types = [e["type"] for e in events]
    assert types[-1] == "RUN_FINISHED" and "RAW" not in types
    [result] = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert result["content"] == BIG  # once, whole
    texts = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    args = "".join(e["delta"] for e in events if e["type"] == "TOOL_CALL_ARGS")
    assert (texts, args) == ("Looking.Done.", '{"n": 1}')
    content = len(BIG.encode()) + len(texts.encode()) + len(args.encode())
    assert len(BIG.encode()) == 33_900
    ratio = len(wire) / content
    print(f"\nAG-UI bytes on the wire {len(wire)}, content {content}: {ratio:.3f}x")
    assert ratio <= 1.2, (len(wire), content)
