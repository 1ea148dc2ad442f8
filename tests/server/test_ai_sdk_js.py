"""The ``ai`` package's own client in Node (``tests/js/ai_sdk_reader.mjs``:
``DefaultChatTransport`` + ``readUIMessageStream``) against ``streamtap serve``'s AI SDK
routes: the client's schema accepts every part, and the UI message it folds them into is
the one a ``useChat`` would show. ``ai`` 7 for a streamtap.graph and a LangGraph graph;
``ai`` 6 and 5 (npm aliases ``ai6``, ``ai5``) for the streamtap.graph one."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from streamtap.server import create_app
from tests.server._ai_sdk_graphs import SLOW, SLOW_TOKENS, graphs
from tests.server._js_support import needs_node, npm_ci, run_node
from tests.server._support import LiveServer
from tests.server.test_ai_sdk import ANSWER

pytestmark = needs_node()
#: (client package, graph engine)
CLIENTS = [("ai", "st"), ("ai", "lg"), ("ai6", "st"), ("ai5", "st")]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    npm_ci()
    app = create_app({**graphs("st"), **graphs("lg")}, disconnect_grace=0.2)
    with LiveServer(app) as server:
        yield server.url


@pytest.fixture(params=CLIENTS, ids=[f"{c}-{e}" for c, e in CLIENTS])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The graph engine; the client package goes to the node script (``AI_PACKAGE``)."""
    client, engine = request.param
    monkeypatch.setenv("AI_PACKAGE", client)
    return str(engine)


def reader(url: str, graph: str, chat_id: str, scenario: str) -> dict[str, Any]:
    chat_id = f"{chat_id}-{os.environ['AI_PACKAGE']}"
    out = run_node("ai_sdk_reader.mjs", url, graph, chat_id, scenario, timeout=60)
    assert isinstance(out, dict)
    return out


def chunks(run: dict[str, Any]) -> list[Any]:
    first, *rest = run["chunks"]
    assert first["type"] == "start" and first["messageId"]
    return [{"type": "start"}, *rest]


def test_answer(url: str, engine: str) -> None:
    (run,) = reader(url, f"{engine}_answer", f"js-answer-{engine}", "answer")["runs"]
    assert run["errors"] == []
    assert chunks(run) == ANSWER[:-1]
    assert run["message"] == {
        "role": "assistant",
        "parts": [
            {"type": "data-custom", "data": {"progress": 50}},
            {"type": "step-start"},
            {"type": "reasoning", "id": "m1:0", "text": "think", "state": "done"},
            {"type": "text", "text": "Let me.", "state": "done"},
            {
                "type": "tool-search",
                "toolCallId": "call_1",
                "state": "output-available",
                "input": {"q": "x"},
                "output": "found x",
            },
            {
                "type": "tool-weather",
                "toolCallId": "call_2",
                "state": "output-available",
                "input": {"city": "Paris"},
                "output": "sunny in Paris",
            },
        ],
    }


def test_interrupt_and_its_answer(url: str, engine: str) -> None:
    asked, answered = reader(url, f"{engine}_approve", f"js-approve-{engine}", "approve")["runs"]
    interrupt = asked["message"]["parts"][-1]
    assert interrupt["type"] == "data-interrupt"
    assert interrupt["data"] == {
        "interrupt_id": interrupt["id"],
        "payload": {"question": "send it?"},
    }
    assert asked["message"]["parts"][:-1] == [
        {"type": "step-start"},
        {"type": "text", "text": "Draft ready", "state": "done"},
    ]
    assert asked["chunks"][-1] == {"type": "finish", "finishReason": "other"}
    assert answered["message"]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "approved: yes", "state": "done"},
    ]
    assert answered["errors"] == asked["errors"] == []


def test_error_mid_answer(url: str, engine: str) -> None:
    (run,) = reader(url, f"{engine}_fail", f"js-fail-{engine}", "fail")["runs"]
    assert run["errors"] == ["ValueError: the tool backend is down"]
    assert run["chunks"][-1] == {
        "type": "error",
        "errorText": "ValueError: the tool backend is down",
    }
    assert run["message"]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "Hello", "state": "done"},
    ]


def test_client_abort_then_resume(url: str, engine: str) -> None:
    SLOW[engine].events.clear()
    out = reader(url, f"{engine}_slow", f"js-abort-{engine}", "abort")
    aborted, resumed = out["runs"]
    assert aborted["chunks"][-1]["type"] == "text-delta"
    assert aborted["errors"] == ["This operation was aborted"]
    assert resumed["errors"] == []
    assert resumed["message"]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "".join(SLOW_TOKENS), "state": "done"},
    ]
    assert resumed["chunks"][-1] == {"type": "finish", "finishReason": "stop"}
    assert out["afterwards"] is None  # 204: nothing runs any more
    assert SLOW[engine].events == ["opened", "finished"]  # the abort did not cancel the run


def test_stop(url: str, engine: str) -> None:
    SLOW[engine].events.clear()
    out = reader(url, f"{engine}_slow", f"js-stop-{engine}", "stop")
    (run,) = out["runs"]
    assert out["stopped"] == {"stopped": True}
    assert run["errors"] == []
    assert run["chunks"][-1] == {"type": "abort", "reason": "stopped"}
    text = run["message"]["parts"][-1]["text"]
    assert text and "".join(SLOW_TOKENS).startswith(text) and text != "".join(SLOW_TOKENS)
    deadline = time.monotonic() + 5
    while len(SLOW[engine].events) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert SLOW[engine].events == ["opened", "closed"]  # the model's stream was closed
