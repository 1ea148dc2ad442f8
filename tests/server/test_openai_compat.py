"""The OpenAI-compatible routes with the official ``openai`` Python SDK (sync and async),
pointed at a real ``streamtap`` server (uvicorn on loopback, an API token) serving the
same graphs on both engines (``_openai_graphs``): streamed and non-streamed text,
reasoning, two parallel client tool calls, graph-executed tool calls left out, an
interrupt, an error mid-answer, a client abort (the upstream model stream is closed),
the models list, an unknown model, auth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from streamtap.server import create_app
from tests.server._openai_graphs import CLIENT_TOOLS, SLOW, TOKENS, graphs
from tests.server._support import LiveServer

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)

TOKEN = "openai-compat-token"
ENGINES = ("st", "lg")
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = create_app({**graphs("st"), **graphs("lg")}, api_token=TOKEN, disconnect_grace=0.2)
    with LiveServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0, timeout=30) as c:
        yield c


def _stream(client: openai.OpenAI, model: str, **kwargs: Any) -> list[Any]:
    stream = client.chat.completions.create(model=model, messages=HI, stream=True, **kwargs)  # type: ignore[call-overload]
    return list(stream)


def _content(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _finish(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


@pytest.mark.parametrize("engine", ENGINES)
def test_streamed_text_with_usage(client: openai.OpenAI, engine: str) -> None:
    chunks = _stream(client, f"{engine}_text", stream_options={"include_usage": True})
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-")
    assert {c.created for c in chunks} == {chunks[0].created}
    assert {c.model for c in chunks} == {f"{engine}_text"}
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:5]] == TOKENS
    assert _content(chunks) == "Hello world" and _finish(chunks) == ["stop"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 4, 7)
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("engine", ENGINES)
def test_non_streamed(client: openai.OpenAI, engine: str) -> None:
    done = client.chat.completions.create(model=f"{engine}_text", messages=HI)  # type: ignore[arg-type]
    assert done.object == "chat.completion" and done.model == f"{engine}_text"
    assert done.choices[0].message.content == "Hello world"
    assert done.choices[0].message.role == "assistant"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.total_tokens == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_reasoning(client: openai.OpenAI, engine: str) -> None:
    chunks = _stream(client, f"{engine}_reasoning")
    reasoning = [getattr(c.choices[0].delta, "reasoning_content", None) for c in chunks]
    assert [r for r in reasoning if r] == ["think", "ing"]
    assert _content(chunks) == "Done."
    done = client.chat.completions.create(model=f"{engine}_reasoning", messages=HI)  # type: ignore[arg-type]
    assert getattr(done.choices[0].message, "reasoning_content", None) == "thinking"


@pytest.mark.parametrize("engine", ENGINES)
def test_two_parallel_client_tool_calls(client: openai.OpenAI, engine: str) -> None:
    model = f"{engine}_client_tools"
    chunks = _stream(client, model, tools=CLIENT_TOOLS)
    assert _content(chunks) == "Checking." and _finish(chunks) == ["tool_calls"]
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for part in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += part.id or ""
            call["name"] += (part.function.name or "") if part.function else ""
            call["arguments"] += (part.function.arguments or "") if part.function else ""
    assert calls == {
        0: {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_b", "name": "get_time", "arguments": '{"tz": "CET"}'},
    }
    done = client.chat.completions.create(model=model, messages=HI, tools=CLIENT_TOOLS)  # type: ignore[arg-type]
    message = done.choices[0].message
    assert done.choices[0].finish_reason == "tool_calls" and message.content == "Checking."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [  # type: ignore[union-attr]
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_time", '{"tz": "CET"}'),
    ]
    # the next turn: the client's results in the history (a new thread with all of it)
    history = [
        *HI,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
    ]
    again = client.chat.completions.create(model=model, messages=history)  # type: ignore[arg-type]
    assert again.choices[0].message.content == "No tools."  # no tools passed this time


@pytest.mark.parametrize("engine", ENGINES)
def test_graph_executed_tool_calls_are_not_sent(client: openai.OpenAI, engine: str) -> None:
    chunks = _stream(client, f"{engine}_graph_tools", stream_options={"include_usage": True})
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    assert _content(chunks) == "It is sunny." and _finish(chunks) == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 16  # both calls


@pytest.mark.parametrize("engine", ENGINES)
def test_interrupt_ends_the_answer_with_its_question(client: openai.OpenAI, engine: str) -> None:
    chunks = _stream(client, f"{engine}_approve")
    assert _content(chunks) == 'Draft ready\n\n{"question": "send it?"}'
    assert _finish(chunks) == ["stop"]


@pytest.mark.parametrize("engine", ENGINES)
def test_error_mid_answer(client: openai.OpenAI, engine: str) -> None:
    received: list[str] = []
    stream = client.chat.completions.create(model=f"{engine}_fail", messages=HI, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Hello"
    assert raised.value.message == "ValueError: the tool backend is down"
    assert raised.value.body == {
        "message": "ValueError: the tool backend is down",
        "type": "server_error",
        "param": None,
        "code": "run_failed",
    }
    with pytest.raises(openai.InternalServerError) as failed:  # non-streamed: a 500
        client.chat.completions.create(model=f"{engine}_fail", messages=HI)  # type: ignore[arg-type]
    assert failed.value.status_code == 500
    assert failed.value.body["code"] == "run_failed"  # type: ignore[index]


def _wait_closed(engine: str) -> list[str]:
    deadline = time.monotonic() + 10
    while SLOW[engine].events[-1:] != ["closed"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return SLOW[engine].events


@pytest.mark.parametrize("engine", ENGINES)
def test_client_abort_closes_the_model_stream(client: openai.OpenAI, engine: str) -> None:
    SLOW[engine].events.clear()
    stream = client.chat.completions.create(model=f"{engine}_slow", messages=HI, stream=True)  # type: ignore[arg-type]
    got = []
    for chunk in stream:
        got.append(chunk)
        if len(got) == 4:
            break
    stream.close()
    assert _wait_closed(engine) == ["opened", "closed"]


def test_non_streamed_client_gone_stops_the_run(url: str) -> None:
    SLOW["st"].events.clear()
    body = {"model": "st_slow", "messages": HI}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=0.5)
    assert _wait_closed("st") == ["opened", "closed"]


async def test_async_client_stream_and_create(url: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0) as client:
        for engine in ENGINES:
            stream = await client.chat.completions.create(
                model=f"{engine}_text",
                messages=HI,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            assert _content(chunks) == "Hello world" and _finish(chunks) == ["stop"]
            assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 7
            done = await client.chat.completions.create(
                model=f"{engine}_client_tools",
                messages=HI,  # type: ignore[arg-type]
                tools=CLIENT_TOOLS,  # type: ignore[arg-type]
            )
            assert [c.id for c in done.choices[0].message.tool_calls or []] == ["call_a", "call_b"]
            stream = await client.chat.completions.create(
                model=f"{engine}_fail",
                messages=HI,  # type: ignore[arg-type]
                stream=True,
            )
            with pytest.raises(openai.APIError, match="the tool backend is down"):
                async for _ in stream:
                    pass


def test_models_unknown_model_and_bad_request(client: openai.OpenAI) -> None:
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids == sorted([*graphs("st"), *graphs("lg")])
    assert {m.object for m in models.data} == {"model"}
    assert {m.owned_by for m in models.data} == {"streamtap"}
    assert client.models.retrieve("st_text").id == "st_text"
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=HI)  # type: ignore[arg-type]
    assert missing.value.status_code == 404
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert missing.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert missing.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=HI, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="st_text", messages=HI, n=2)  # type: ignore[arg-type]
    assert bad.value.body["param"] == "n"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model="st_text", messages=[])
    assert empty.value.body["param"] == "messages"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as invalid:  # no tool_call_id: refused up front
        client.chat.completions.create(model="st_text", messages=[{"role": "tool", "content": "x"}])  # type: ignore[arg-type,list-item,misc]
    assert invalid.value.body["param"] == "messages"  # type: ignore[index]
    assert "messages[0] is not a valid message" in invalid.value.message


@pytest.mark.parametrize("layout", ["memory", "redis"])
def test_layouts(serve: Any, request: pytest.FixtureRequest, layout: str) -> None:
    """The same chunks when the run's events come back from Redis (parsed JSON, not the
    run's objects): an unstreamed AI message, an interrupt, client tool calls."""
    kwargs = {"redis_url": request.getfixturevalue("redis_url")} if layout == "redis" else {}
    server = serve({**graphs("st"), **graphs("lg")}, **kwargs)
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as client:
        for engine in ENGINES:
            assert _content(_stream(client, f"{engine}_plain")) == "Plain answer."
            done = client.chat.completions.create(model=f"{engine}_plain", messages=HI)  # type: ignore[arg-type]
            assert done.choices[0].message.content == "Plain answer."
            chunks = _stream(client, f"{engine}_approve")
            assert _content(chunks) == 'Draft ready\n\n{"question": "send it?"}'
            chunks = _stream(client, f"{engine}_client_tools", tools=CLIENT_TOOLS)
            assert _finish(chunks) == ["tool_calls"] and _content(chunks) == "Checking."


def test_auth_is_the_api_token(url: str) -> None:
    with openai.OpenAI(base_url=f"{url}/v1", api_key="wrong-token", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="st_text", messages=HI)  # type: ignore[arg-type]
    sent = httpx.post(f"{url}/v1/chat/completions", json={"model": "st_text", "messages": HI})
    assert sent.status_code == 401
    assert sent.json()["error"]["type"] == "authentication_error"  # OpenAI's shape
    assert sent.json()["error"]["code"] == "invalid_api_key"
    other = httpx.get(f"{url}/threads/x", timeout=10)
    assert other.status_code == 401 and "detail" in other.json()  # the rest: the Platform's


@pytest.mark.parametrize("engine", ENGINES)
def test_a_finished_answer_leaves_no_thread_unless_stored(
    client: openai.OpenAI, url: str, engine: str
) -> None:
    """Chat Completions requests are stateless: once the answer is complete (streamed or
    not) its thread is deleted, state and log included; ``store: true`` keeps it, and so
    does an interrupt (answered through the LangGraph API)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def thread_of(raw: Any) -> int:
        thread = raw.headers["X-Streamtap-Thread-Id"]
        deadline = time.monotonic() + 5
        while True:  # the thread goes once the run is over, after the response
            status = httpx.get(f"{url}/threads/{thread}", headers=auth, timeout=10).status_code
            if status == 404 or time.monotonic() > deadline:
                return status
            time.sleep(0.02)

    streamed = client.chat.completions.with_raw_response.create(
        model=f"{engine}_text", messages=HI, stream=True
    )
    assert _content(list(streamed.parse())) == "Hello world"
    assert thread_of(streamed) == 404
    whole = client.chat.completions.with_raw_response.create(model=f"{engine}_text", messages=HI)
    assert whole.parse().choices[0].message.content == "Hello world"
    assert thread_of(whole) == 404
    stored = client.chat.completions.with_raw_response.create(
        model=f"{engine}_text", messages=HI, store=True
    )
    thread = stored.headers["X-Streamtap-Thread-Id"]
    state = httpx.get(f"{url}/threads/{thread}/state", headers=auth, timeout=10).json()
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]
    asked = client.chat.completions.with_raw_response.create(model=f"{engine}_approve", messages=HI)
    thread = asked.headers["X-Streamtap-Thread-Id"]
    waiting = httpx.get(f"{url}/threads/{thread}", headers=auth, timeout=10).json()
    assert waiting["status"] == "interrupted"
