"""The input side: LangChain messages become each vendor's request body, and a conversation
(tool use, reasoning with signatures, redacted thinking) round-trips."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field

from tests import _fixtures as F
from tests.providers._contract import total
from tests.providers.conftest import make_model

IMAGE_B64 = "iVBORw0KGgo="


def _body(route) -> dict:
    return json.loads(route.calls.last.request.content)


def test_anthropic_system_merged_turns_and_tool_results(router) -> None:
    route = F.mock(router, "anthropic", "text")
    history = [
        SystemMessage("Be brief."),
        SystemMessage("Use metric units."),
        HumanMessage("Weather in Paris and Tokyo?"),
        AIMessage(
            content="Checking both.",
            tool_calls=[
                {"name": "get_weather", "args": {"location": "Paris"}, "id": "toolu_1"},
                {"name": "get_weather", "args": {"location": "Tokyo"}, "id": "toolu_2"},
            ],
        ),
        ToolMessage("18C", tool_call_id="toolu_1"),
        ToolMessage("boom", tool_call_id="toolu_2", status="error"),
        HumanMessage(
            content=[
                {"type": "text", "text": "And this?"},
                {"type": "image", "base64": IMAGE_B64, "mime_type": "image/png"},
            ]
        ),
    ]
    make_model("anthropic").invoke(history)
    body = _body(route)
    assert body["system"] == "Be brief.\n\nUse metric units."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert assistant == [
        {"type": "text", "text": "Checking both."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "get_weather",
            "input": {"location": "Paris"},
        },
        {
            "type": "tool_use",
            "id": "toolu_2",
            "name": "get_weather",
            "input": {"location": "Tokyo"},
        },
    ]
    last_user = body["messages"][2]["content"]
    assert last_user[0] == {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}
    assert last_user[1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_2",
        "content": "boom",
        "is_error": True,
    }
    assert last_user[2] == {"type": "text", "text": "And this?"}
    assert last_user[3] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": IMAGE_B64},
    }
    assert body["stream"] is True and body["max_tokens"] == 4096


@pytest.mark.parametrize("scenario", ["reasoning", "redacted_thinking"])
def test_anthropic_thinking_round_trips_with_signature_and_redacted_data(
    router, scenario: str
) -> None:
    F.mock(router, "anthropic", scenario)
    model = make_model("anthropic")
    answer = total(list(model.stream("hi")))
    route = F.mock(router, "anthropic", "text")
    model.invoke([HumanMessage("hi"), answer, HumanMessage("and then?")])
    sent = _body(route)["messages"][1]["content"]
    raw = F.load("anthropic", scenario).body.decode()
    signature = json.loads(raw.split('"signature_delta","signature":')[1].split("}")[0])
    thinking = [b for b in sent if b["type"] == "thinking"]
    assert thinking and thinking[0]["signature"] == signature
    assert thinking[0]["thinking"] == F.expected("anthropic", scenario)["reasoning"]
    if scenario == "redacted_thinking":
        data = json.loads(raw.split('"type":"redacted_thinking","data":')[1].split("}")[0])
        assert {"type": "redacted_thinking", "data": data} in sent
    # Block order is the order the model produced them in.
    assert sent[0]["type"] == "thinking" and sent[-1]["type"] == "text"


@pytest.mark.parametrize("wire", ["openai", "openai-responses", "anthropic", "openai-compatible"])
def test_multi_turn_tool_use_round_trip(router, wire: str) -> None:
    F.mock(router, wire, "tool_call")
    model = make_model(wire)
    first = model.invoke("Weather in SF?")
    (call,) = first.tool_calls
    route = F.mock(router, wire, "text")
    final = model.invoke(
        [HumanMessage("Weather in SF?"), first, ToolMessage("72F, sunny", tool_call_id=call["id"])]
    )
    assert final.content == "Hello! How can I help you today?"
    body = _body(route)
    args = {"location": "San Francisco, CA", "unit": "fahrenheit"}
    if wire == "anthropic":
        assert body["messages"][1]["content"] == [
            {"type": "tool_use", "id": call["id"], "name": "get_weather", "input": args}
        ]
        assert body["messages"][2]["content"] == [
            {"type": "tool_result", "tool_use_id": call["id"], "content": "72F, sunny"}
        ]
    elif wire == "openai-responses":
        assert body["input"][1] == {
            "type": "function_call",
            "call_id": call["id"],
            "name": "get_weather",
            "arguments": json.dumps(args),
        }
        assert body["input"][2] == {
            "type": "function_call_output",
            "call_id": call["id"],
            "output": "72F, sunny",
        }
    else:
        assistant = body["messages"][1]
        assert assistant["role"] == "assistant" and assistant["content"] is None
        assert assistant["tool_calls"][0]["id"] == call["id"]
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == args
        assert body["messages"][2] == {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": "72F, sunny",
        }


@pytest.mark.parametrize("wire", ["openai", "openai-compatible"])
def test_chat_requests_always_ask_for_usage(router, wire: str) -> None:
    route = F.mock(router, wire, "text")
    make_model(wire, temperature=0.2, max_tokens=50, stop=["END"]).invoke(
        [
            SystemMessage("sys"),
            HumanMessage(content=[{"type": "image", "url": "https://example.com/a.png"}, "what?"]),
        ]
    )
    body = _body(route)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2 and body["stop"] == ["END"]
    assert body[("max_completion_tokens" if wire == "openai" else "max_tokens")] == 50
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["messages"][1]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.png"},
    }


@pytest.mark.parametrize("wire", ["openai", "openai-compatible", "azure", "mistral"])
async def test_chat_refuses_several_answers_per_request(router, wire: str) -> None:
    """``n > 1`` would stream several answers in one body, which one message cannot hold:
    refused before anything is sent, rather than keeping the first and dropping the rest."""
    route = F.mock(router, wire, "text")
    with pytest.raises(ValueError, match=r"n=2 is not supported: streamtap streams one answer"):
        make_model(wire).invoke("hi", n=2)
    with pytest.raises(ValueError, match=r"n=3 is not supported"):
        await make_model(wire, model_kwargs={"n": 3}).ainvoke("hi")
    assert route.call_count == 0
    assert make_model(wire).invoke("hi", n=1).content  # one answer asked for explicitly: fine
    assert _body(route)["n"] == 1


def test_chat_drops_reasoning_from_assistant_history(router) -> None:
    route = F.mock(router, "openai", "text")
    past = AIMessage(content=[{"type": "reasoning", "reasoning": "hmm", "index": 0}, "Hello!"])
    make_model("openai").invoke([HumanMessage("hi"), past, HumanMessage("again")])
    assert _body(route)["messages"][1] == {"role": "assistant", "content": "Hello!"}


def test_responses_request_shape(router) -> None:
    route = F.mock(router, "openai-responses", "text")
    make_model("openai-responses", max_tokens=30, temperature=0).invoke(
        [SystemMessage("Be brief."), HumanMessage("hi")]
    )
    body = _body(route)
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"role": "user", "content": "hi"}]
    assert body["max_output_tokens"] == 30 and body["stream"] is True


def test_responses_stop_sequences_are_applied_client_side(router) -> None:
    F.mock(router, "openai-responses", "text")
    message = make_model("openai-responses").invoke("hi", stop=["help"])
    assert message.content == "Hello! How can I "
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["native_finish_reason"] == "stop_sequence"


class Weather(BaseModel):
    """Get the weather for a place."""

    location: str = Field(description="City and state")
    unit: str = "celsius"


@pytest.mark.parametrize("wire", ["openai", "openai-responses", "anthropic"])
def test_bind_tools_request_format(router, wire: str) -> None:
    route = F.mock(router, wire, "tool_call")
    message = make_model(wire).bind_tools([Weather], tool_choice="Weather").invoke("SF?")
    body = _body(route)
    (tool,) = body["tools"]
    if wire == "anthropic":
        assert tool["name"] == "Weather" and tool["input_schema"]["required"] == ["location"]
        assert body["tool_choice"] == {"type": "tool", "name": "Weather"}
    elif wire == "openai-responses":
        assert tool["type"] == "function" and tool["name"] == "Weather"
        assert body["tool_choice"] == {"type": "function", "name": "Weather"}
    else:
        assert tool["function"]["name"] == "Weather"
        assert body["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}
    assert message.tool_calls[0]["name"] == "get_weather"


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_with_structured_output(router, wire: str) -> None:
    F.mock(router, wire, "tool_call")

    class get_weather(BaseModel):
        location: str
        unit: str

    result = make_model(wire).with_structured_output(get_weather).invoke("SF?")
    assert result == get_weather(location="San Francisco, CA", unit="fahrenheit")


def test_anthropic_sampling_parameters_reach_the_body(router) -> None:
    """anthropic 2.x's create() has no temperature argument; the API still takes it in the body."""
    route = F.mock(router, "anthropic", "text")
    make_model("anthropic", temperature=0.3, model_kwargs={"top_k": 5}).invoke("hi")
    body = _body(route)
    assert body["temperature"] == 0.3 and body["top_k"] == 5
