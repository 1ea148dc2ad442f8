"""Tool calls from the 135M model, through streamtap's chat template, on both wire formats.

What SmolLM2-135M reliably does (greedy, measured): asked zero-shot it answers in prose
and never calls the tool; after three example turns that call ``get_weather`` it calls
it for the new city, every time. So the tests use that few-shot history: they pin the
stream shape of a tool call, not the model's judgement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from streamtap.local import LocalServer

pytestmark = pytest.mark.local_model

_CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
_EXAMPLE_CITIES = ("London", "Berlin", "Rome")
_GREEDY = {"temperature": 0, "seed": 42}


@pytest.fixture
def openai_client(local_server: LocalServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=local_server.base_url, api_key="sk-local", max_retries=0, timeout=30.0
    ) as client:
        yield client


@pytest.fixture
def anthropic_client(local_server: LocalServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=local_server.anthropic_base_url, api_key="local", max_retries=0, timeout=30.0
    ) as client:
        yield client


def _openai_few_shot(question: str) -> list[Any]:
    messages: list[Any] = []
    for index, city in enumerate(_EXAMPLE_CITIES):
        messages.append({"role": "user", "content": f"What is the weather in {city}?"})
        call = {"name": "get_weather", "arguments": json.dumps({"city": city})}
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": f"call_{index}", "type": "function", "function": call}],
            }
        )
    messages.append({"role": "user", "content": question})
    return messages


def test_openai_streams_a_tool_call_after_few_shot_examples(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model="local",
            messages=_openai_few_shot("What is the weather in Paris?"),
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Get the current weather in a city",
                        "parameters": _CITY_SCHEMA,
                    },
                }
            ],
            stream=True,
            max_tokens=48,
            **_GREEDY,
        )
    )

    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(deltas) >= 2, "arguments stream in several deltas"
    assert {d.index for d in deltas} == {0}, "one call"
    assert deltas[0].id and deltas[0].function and deltas[0].function.name == "get_weather"
    assert all(d.id is None and d.function and d.function.name is None for d in deltas[1:])
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert not "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["tool_calls"]


def test_anthropic_streams_a_tool_use_block_after_few_shot_examples(
    anthropic_client: anthropic.Anthropic,
) -> None:
    messages: list[Any] = []
    for index, city in enumerate(_EXAMPLE_CITIES):
        messages.append({"role": "user", "content": f"What is the weather in {city}?"})
        use = {
            "type": "tool_use",
            "id": f"toolu_{index}",
            "name": "get_weather",
            "input": {"city": city},
        }
        messages.append({"role": "assistant", "content": [use]})
    messages.append({"role": "user", "content": "What is the weather in Paris?"})

    events = list(
        anthropic_client.messages.create(
            model="local",
            max_tokens=48,
            messages=messages,
            tools=[
                {
                    "name": "get_weather",
                    "description": "Get the current weather in a city",
                    "input_schema": _CITY_SCHEMA,
                }
            ],
            stream=True,
            extra_body=_GREEDY,
        )
    )

    types = [event.type for event in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[1]
    assert start.type == "content_block_start"
    assert start.content_block.type == "tool_use"
    assert start.content_block.name == "get_weather"
    deltas = events[2:-3]
    assert all(
        e.type == "content_block_delta" and e.delta.type == "input_json_delta" for e in deltas
    )
    partial = "".join(
        e.delta.partial_json
        for e in deltas
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    assert json.loads(partial) == {"city": "Paris"}
    message_delta = events[-2]
    assert message_delta.type == "message_delta"
    assert message_delta.delta.stop_reason == "tool_use"
