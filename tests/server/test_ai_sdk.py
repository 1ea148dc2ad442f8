"""The AI SDK routes over HTTP (``streamtap/server/ai_sdk.py``), for a streamtap.graph and a
LangGraph graph: the exact part streams of an answer (text, reasoning, two parallel tool
calls, a custom item), an interrupt and its answer, a failure mid-answer, stop (``abort``,
the run interrupted, the model's stream closed), a client that goes away (the run goes
on; ``GET .../stream`` replays it), and the errors before the first byte."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streamtap.server import create_app
from tests.server._ai_sdk_graphs import SLOW, SLOW_TOKENS, graphs
from tests.server._support import LiveServer

ENGINES = ("st", "lg")
MESSAGES = [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = create_app({**graphs("st"), **graphs("lg")}, disconnect_grace=0.2)
    with LiveServer(app) as server:
        yield server.url


def parse(raw: bytes) -> list[Any]:
    """The SSE ``data:`` payloads of a UI message stream, ``[DONE]`` as the string."""
    out: list[Any] = []
    for event in raw.decode().split("\n\n"):
        if event:
            assert event.startswith("data: "), event
            data = event[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def chat(url: str, graph: str, chat_id: str, **extra: Any) -> httpx.Response:
    body = {"id": chat_id, "messages": MESSAGES, "trigger": "submit-message", **extra}
    return httpx.post(f"{url}/ai-sdk/{graph}/chat", json=body, timeout=30)


def without_message_id(parts: list[Any]) -> list[Any]:
    assert parts[0]["type"] == "start" and parts[0]["messageId"]
    return [{"type": "start"}, *parts[1:]]


ANSWER = [
    {"type": "start"},
    {"type": "data-custom", "data": {"progress": 50}},
    {"type": "start-step"},
    {"type": "reasoning-start", "id": "m1:0"},
    {"type": "reasoning-delta", "id": "m1:0", "delta": "think"},
    {"type": "text-start", "id": "m1:1"},
    {"type": "text-delta", "id": "m1:1", "delta": "Let "},
    {"type": "text-delta", "id": "m1:1", "delta": "me."},
    {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "search"},
    {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '{"q":'},
    {"type": "tool-input-start", "toolCallId": "call_2", "toolName": "weather"},
    {"type": "tool-input-delta", "toolCallId": "call_2", "inputTextDelta": '{"city":'},
    {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": ' "x"}'},
    {"type": "tool-input-delta", "toolCallId": "call_2", "inputTextDelta": ' "Paris"}'},
    {"type": "reasoning-end", "id": "m1:0"},
    {"type": "text-end", "id": "m1:1"},
    {"type": "tool-input-available", "toolCallId": "call_1", "toolName": "search",
     "input": {"q": "x"}},
    {"type": "tool-input-available", "toolCallId": "call_2", "toolName": "weather",
     "input": {"city": "Paris"}},
    {"type": "tool-output-available", "toolCallId": "call_1", "output": "found x"},
    {"type": "tool-output-available", "toolCallId": "call_2", "output": "sunny in Paris"},
    {"type": "finish-step"},
    {"type": "finish", "finishReason": "tool-calls",
     "messageMetadata": {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}}},
    "[DONE]",
]  # fmt: skip


def text_parts(text: str, block: str = "m1:0") -> list[dict[str, Any]]:
    return [
        {"type": "text-start", "id": block},
        {"type": "text-delta", "id": block, "delta": text},
        {"type": "text-end", "id": block},
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_answer(url: str, engine: str) -> None:
    response = chat(url, f"{engine}_answer", f"answer-{engine}")
    assert response.status_code == 200
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert without_message_id(parse(response.content)) == ANSWER


@pytest.mark.parametrize("engine", ENGINES)
def test_interrupt_and_its_answer(url: str, engine: str) -> None:
    chat_id = f"approve-{engine}"
    asked = parse(chat(url, f"{engine}_approve", chat_id).content)
    interrupt = asked[-4]
    assert interrupt["type"] == "data-interrupt" and interrupt["id"]
    assert without_message_id(asked) == [
        {"type": "start"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1:0"},
        {"type": "text-delta", "id": "m1:0", "delta": "Draft "},
        {"type": "text-delta", "id": "m1:0", "delta": "ready"},
        {"type": "text-end", "id": "m1:0"},
        {
            "type": "data-interrupt",
            "id": interrupt["id"],
            "data": {"interrupt_id": interrupt["id"], "payload": {"question": "send it?"}},
        },
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "other"},
        "[DONE]",
    ]
    answered = parse(chat(url, f"{engine}_approve", chat_id, resume="yes").content)
    assert without_message_id(answered) == [
        {"type": "start"},
        {"type": "start-step"},
        *text_parts("approved: yes"),
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        "[DONE]",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_failure_mid_answer(url: str, engine: str) -> None:
    parts = parse(chat(url, f"{engine}_fail", f"fail-{engine}").content)
    assert without_message_id(parts) == [
        {"type": "start"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1:0"},
        {"type": "text-delta", "id": "m1:0", "delta": "Hel"},
        {"type": "text-delta", "id": "m1:0", "delta": "lo"},
        {"type": "text-end", "id": "m1:0"},
        {"type": "error", "errorText": "ValueError: the tool backend is down"},
        "[DONE]",
    ]


def _wait_idle(url: str, graph: str, chat_id: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/ai-sdk/{graph}/chat/{chat_id}/stream").status_code == 204:
            return
        time.sleep(0.05)
    raise AssertionError("the run did not end")


@pytest.mark.parametrize("engine", ENGINES)
def test_stop_aborts_the_run_and_closes_the_model_stream(url: str, engine: str) -> None:
    graph, chat_id = f"{engine}_slow", f"stop-{engine}"
    body = {"id": chat_id, "messages": MESSAGES, "trigger": "submit-message"}
    SLOW[engine].events.clear()
    parts: list[Any] = []
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{url}/ai-sdk/{graph}/chat", json=body) as response,
    ):
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data: {") and '"text-delta"' in line:
                stop = client.post(f"{url}/ai-sdk/{graph}/chat/{chat_id}/stop")
                assert stop.json() == {"stopped": True}
                parts.append(json.loads(line[6:]))
                break
        parts += [json.loads(x[6:]) if x != "data: [DONE]" else "[DONE]" for x in lines if x]
    assert parts[-2:] == [{"type": "abort", "reason": "stopped"}, "[DONE]"]
    deltas = [p["delta"] for p in parts if isinstance(p, dict) and p["type"] == "text-delta"]
    assert 1 <= len(deltas) < len(SLOW_TOKENS)
    assert SLOW_TOKENS[: len(deltas)] == deltas
    _wait_idle(url, graph, chat_id)
    assert SLOW[engine].events == ["opened", "closed"]  # the model's stream was closed
    stopped = httpx.post(f"{url}/ai-sdk/{graph}/chat/{chat_id}/stop")
    assert stopped.json() == {"stopped": False}


@pytest.mark.parametrize("engine", ENGINES)
def test_client_gone_the_run_goes_on_and_resume_replays_it(url: str, engine: str) -> None:
    graph, chat_id = f"{engine}_slow", f"gone-{engine}"
    assert httpx.get(f"{url}/ai-sdk/{graph}/chat/{chat_id}/stream").status_code == 204
    body = {"id": chat_id, "messages": MESSAGES, "trigger": "submit-message"}
    SLOW[engine].events.clear()
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{url}/ai-sdk/{graph}/chat", json=body) as response,
    ):
        for line in response.iter_lines():
            if '"text-delta"' in line:
                break  # the client goes away mid-answer
    time.sleep(0.3)
    resumed = httpx.get(f"{url}/ai-sdk/{graph}/chat/{chat_id}/stream", timeout=30)
    assert resumed.status_code == 200
    assert resumed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    parts = without_message_id(parse(resumed.content))
    assert parts == [
        {"type": "start"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1:0"},
        *({"type": "text-delta", "id": "m1:0", "delta": t} for t in SLOW_TOKENS),
        {"type": "text-end", "id": "m1:0"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        "[DONE]",
    ]
    assert SLOW[engine].events == ["opened", "finished"]
    assert httpx.get(f"{url}/ai-sdk/{graph}/chat/{chat_id}/stream").status_code == 204


def test_errors_before_the_first_byte(url: str) -> None:
    unknown = chat(url, "nope", "e1")
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    assert httpx.get(f"{url}/ai-sdk/nope/chat/e1/stream").status_code == 404
    assert httpx.post(f"{url}/ai-sdk/nope/chat/e1/stop").status_code == 404
    no_id = httpx.post(f"{url}/ai-sdk/st_answer/chat", json={"messages": MESSAGES})
    assert no_id.status_code == 422
    no_user = httpx.post(f"{url}/ai-sdk/st_answer/chat", json={"id": "e2", "messages": []})
    assert no_user.status_code == 422
    with httpx.Client(timeout=30) as client:
        body = {"id": "busy2", "messages": MESSAGES}
        with client.stream("POST", f"{url}/ai-sdk/st_slow/chat", json=body) as first:
            next(first.iter_lines())
            busy = client.post(f"{url}/ai-sdk/st_slow/chat", json=body)
            assert busy.status_code == 409  # a chat runs one run at a time
            client.post(f"{url}/ai-sdk/st_slow/chat/busy2/stop")


async def test_mounted_in_a_users_app() -> None:
    """docs/ai-sdk.md: ``create_app`` mounted under ``/api`` in a user's Starlette app,
    its lifespan entered by the user's."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.routing import Mount

    chat = create_app(graphs("st"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with chat.router.lifespan_context(chat):
            yield

    app = Starlette(routes=[Mount("/api", chat)], lifespan=lifespan)
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client,
    ):
        body = {"id": "mounted", "messages": MESSAGES}
        response = await client.post("/api/ai-sdk/st_fail/chat", json=body)
    assert response.status_code == 200
    assert parse(response.content)[-2:] == [
        {"type": "error", "errorText": "ValueError: the tool backend is down"},
        "[DONE]",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_whose_logs_are_in_redis(serve: Any, redis_url: str, engine: str) -> None:
    """The events come back from Redis as JSON (tool results as dicts, not LangChain
    objects): the same part streams, an interrupt's answer included."""
    live = serve(graphs(engine), redis_url=redis_url)
    response = chat(live.url, f"{engine}_answer", f"redis-{engine}")
    assert without_message_id(parse(response.content)) == ANSWER
    asked = parse(chat(live.url, f"{engine}_approve", f"redis-ask-{engine}").content)
    assert asked[-4]["type"] == "data-interrupt" and asked[-2]["finishReason"] == "other"
    answered = parse(
        chat(live.url, f"{engine}_approve", f"redis-ask-{engine}", resume="ok").content
    )
    assert answered[2:5] == text_parts("approved: ok")
