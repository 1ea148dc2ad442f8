"""The OpenAI-compatible routes with the official ``openai`` JS SDK (tests/js, pinned) in
Node (``tests/js/openai_client.mjs``), against a real server serving the same graphs on
both engines (``_openai_graphs``): streamed and non-streamed text with usage, reasoning,
two parallel client tool calls (through the SDK's own ``ChatCompletionStream``
accumulator too), graph-executed tool calls left out, an interrupt, an ``APIError``
mid-answer, a client abort (the upstream model stream is closed), the models list, an
unknown model, auth."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from streamtap.server import create_app
from tests.server._js_support import needs_node, npm_ci, run_node
from tests.server._openai_graphs import SLOW, graphs
from tests.server._support import LiveServer

pytestmark = [
    needs_node(),
    pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"),
]

TOKEN = "openai-compat-js-token"
USAGE = {
    "prompt_tokens": 3,
    "completion_tokens": 4,
    "total_tokens": 7,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    npm_ci()
    app = create_app({**graphs("st"), **graphs("lg")}, api_token=TOKEN, disconnect_grace=0.2)
    with LiveServer(app) as server:
        yield server.url


@pytest.mark.parametrize("engine", ["st", "lg"])
def test_openai_js_sdk(url: str, engine: str) -> None:
    SLOW[engine].events.clear()
    seen = run_node("openai_client.mjs", url, TOKEN, engine)

    text = seen["text"]
    assert (text["ids"], text["objects"], text["models"]) == (
        1,
        ["chat.completion.chunk"],
        [f"{engine}_text"],
    )
    assert text["first_role"] == "assistant" and text["deltas"] == ["Hel", "lo", " wor", "ld"]
    assert text["finish"] == ["stop"] and text["usage"] == USAGE
    assert seen["text_non_stream"] == {
        "object": "chat.completion",
        "content": "Hello world",
        "finish": "stop",
        "usage": USAGE,
    }

    assert seen["reasoning"]["reasoning"] == ["think", "ing"]
    assert seen["reasoning"]["content"] == "Done."

    assert seen["client_tools"] == {
        "finish": "tool_calls",
        "content": "Checking.",
        "tool_calls": [
            ["call_a", "get_weather", '{"city": "Paris"}'],
            ["call_b", "get_time", '{"tz": "CET"}'],
        ],
    }
    streamed = seen["client_tools_stream"]
    assert streamed["finish"] == ["tool_calls"] and streamed["tool_call_deltas"] == 6

    graph_tools = seen["graph_tools"]
    assert graph_tools["tool_call_deltas"] == 0 and graph_tools["content"] == "It is sunny."
    assert graph_tools["finish"] == ["stop"]

    assert seen["interrupt"]["content"] == 'Draft ready\n\n{"question": "send it?"}'
    assert seen["interrupt"]["finish"] == ["stop"]

    error = seen["error"]
    assert error["api_error"] is True and error["received"] == "Hello"
    assert error["message"] == "ValueError: the tool backend is down"
    assert error["error"] == {
        "message": "ValueError: the tool backend is down",
        "type": "server_error",
        "param": None,
        "code": "run_failed",
    }

    assert seen["abort"]["seen"] == 4
    deadline = time.monotonic() + 10
    while SLOW[engine].events[-1:] != ["closed"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert SLOW[engine].events == ["opened", "closed"]  # the model's stream was closed early

    assert [m[0] for m in seen["models"]] == sorted([*graphs("st"), *graphs("lg")])
    assert {(m[1], m[2]) for m in seen["models"]} == {("model", "streamtap")}
    unknown = seen["unknown_model"]
    assert (unknown["name"], unknown["status"]) == ("NotFoundError", 404)
    assert unknown["error"]["code"] == "model_not_found"
    assert (seen["auth"]["name"], seen["auth"]["status"]) == ("AuthenticationError", 401)
