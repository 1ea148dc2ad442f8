"""The pure mappings on hand-written events: cases the recorded fixtures do not cover."""

from __future__ import annotations

import pytest

from streamtap.providers import normalize
from tests.providers._contract import total as _sum


def _chat(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def test_interleaved_parallel_tool_fragments_never_mix() -> None:
    events = [
        _chat({"role": "assistant", "content": None}),
        _chat(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        ),
        _chat(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "g", "arguments": '{"y"'},
                    }
                ]
            }
        ),
        _chat({"tool_calls": [{"index": 0, "function": {"arguments": '{"x": '}}]}),
        _chat(
            {
                "tool_calls": [
                    {"index": 1, "function": {"arguments": ": 2}"}},
                    {"index": 0, "function": {"arguments": "1}"}},
                ]
            }
        ),
        _chat({}, "tool_calls"),
    ]
    message = _sum(list(normalize("openai", events)))
    assert [(c["id"], c["name"], c["args"]) for c in message.tool_calls] == [
        ("call_a", "f", {"x": 1}),
        ("call_b", "g", {"y": 2}),
    ]
    assert [c["index"] for c in message.tool_call_chunks] == [0, 1]


@pytest.mark.parametrize("args", ['{"x": ]', "not json", '{"x": 1}}'])
def test_bad_tool_json_is_an_invalid_tool_call_not_an_exception(args: str) -> None:
    events = [
        _chat(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_a", "function": {"name": "f", "arguments": ""}}
                ]
            }
        ),
        _chat({"tool_calls": [{"index": 0, "function": {"arguments": args}}]}),
        _chat({}, "tool_calls"),
    ]
    message = _sum(list(normalize("openai", events)))
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["name"] == "f"
    assert message.invalid_tool_calls[0]["args"] == args


def test_anthropic_tool_indexes_are_call_ordinals_not_block_indexes() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude",
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "On it."},
        },
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
        },
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "g", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    chunks = list(normalize("anthropic", events))
    assert [c["index"] for ch in chunks for c in ch.tool_call_chunks] == [0, 0, 1, 1]
    message = _sum(chunks)
    assert [c["name"] for c in message.tool_calls] == ["f", "g"]
    # output_tokens from message_delta; input kept from message_start (classic shape)
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14}


def test_anthropic_citations_server_tools_and_unknown_blocks() -> None:
    citation = {
        "type": "web_search_result_location",
        "cited_text": "Paris is sunny",
        "url": "https://w.example/p",
        "title": "Weather",
        "encrypted_index": "Eo8",
    }
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_2",
                "model": "claude",
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": "paris'},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": ' weather"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [{"type": "web_search_result", "url": "https://w.example/p"}],
            },
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "text", "text": "", "citations": []},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "citations_delta", "citation": citation},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "text_delta", "text": "Sunny."},
        },
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "container_upload", "file_id": "f1"},
        },
        {"type": "some_future_event", "x": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 4, "server_tool_use": {"web_search_requests": 1}},
        },
        {"type": "message_stop"},
    ]
    message = _sum(list(normalize("anthropic", events)))
    blocks = message.content_blocks
    types = [b["type"] for b in blocks]
    assert types == ["server_tool_call", "server_tool_result", "text", "text", "non_standard"]
    assert blocks[0]["args"] == {"query": "paris weather"} and blocks[0]["name"] == "web_search"
    assert blocks[1]["tool_call_id"] == "srvtoolu_1" and blocks[1]["status"] == "success"
    (annotation,) = blocks[2]["annotations"]
    assert annotation["type"] == "citation" and annotation["url"] == "https://w.example/p"
    assert (
        annotation["cited_text"] == "Paris is sunny"
        and annotation["extras"]["encrypted_index"] == "Eo8"
    )
    assert blocks[3] == {"type": "text", "text": "Sunny."}
    assert blocks[4]["value"]["type"] == "container_upload"
    assert message.response_metadata["server_tool_use"] == {"web_search_requests": 1}


def test_responses_builtin_tools_annotations_and_encrypted_reasoning() -> None:
    base = {"id": "resp_1", "model": "gpt-5", "status": "in_progress"}
    events = [
        {"type": "response.created", "response": base},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": []},
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {
                "id": "ws_1",
                "type": "web_search_call",
                "status": "completed",
                "action": {"type": "search", "query": "paris"},
            },
        },
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"id": "msg_1", "type": "message", "content": []},
        },
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Sunny."},
        {
            "type": "response.output_text.annotation.added",
            "item_id": "msg_1",
            "annotation": {
                "type": "url_citation",
                "url": "https://w.example",
                "title": "W",
                "start_index": 0,
                "end_index": 6,
            },
        },
        {
            "type": "response.completed",
            "response": {
                **base,
                "status": "completed",
                "usage": {
                    "input_tokens": 4,
                    "output_tokens": 2,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens_details": {"reasoning_tokens": 1},
                },
            },
        },
    ]
    message = _sum(list(normalize("openai-responses", events)))
    blocks = message.content_blocks
    assert [b["type"] for b in blocks] == ["reasoning", "server_tool_call", "text", "text"]
    assert blocks[0]["extras"] == {"item_id": "rs_1", "encrypted_content": "gAAA"}
    assert blocks[1]["name"] == "web_search" and blocks[1]["args"]["query"] == "paris"
    assert blocks[2] == {"type": "text", "text": "Sunny."}
    assert blocks[3]["annotations"][0]["url"] == "https://w.example"
    assert message.usage_metadata["output_token_details"] == {"reasoning": 1}


def test_responses_without_indexes_like_llama_cpp() -> None:
    """llama.cpp's /v1/responses omits sequence_number and output_index."""
    events = [
        {"type": "response.created", "response": {"id": "resp_x", "model": "smollm2"}},
        {
            "type": "response.output_item.added",
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_1",
                "name": "f",
                "arguments": "",
            },
        },
        {"type": "response.function_call_arguments.delta", "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "delta": " 1}"},
        {
            "type": "response.output_item.done",
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_1",
                "name": "f",
                "arguments": '{"a": 1}',
            },
        },
        {"type": "response.completed", "response": {"id": "resp_x", "status": "completed"}},
    ]
    message = _sum(list(normalize("openai-responses", events)))
    assert message.tool_calls == [
        {"name": "f", "args": {"a": 1}, "id": "call_1", "type": "tool_call"}
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_responses_incomplete_is_a_length_stop() -> None:
    events = [
        {"type": "response.created", "response": {"id": "resp_y", "model": "m"}},
        {"type": "response.output_text.delta", "delta": "The answer is"},
        {
            "type": "response.incomplete",
            "response": {
                "id": "resp_y",
                "status": "incomplete",
                "incomplete_details": {"reason": "content_filter"},
            },
        },
    ]
    last = list(normalize("openai-responses", events))[-1]
    assert last.response_metadata["finish_reason"] == "content_filter"
    assert last.response_metadata["native_finish_reason"] == "content_filter"


def test_compatible_reasoning_then_text_then_more_reasoning_keeps_order() -> None:
    events = [
        _chat({"reasoning_content": "think "}),
        _chat({"reasoning_content": "more"}),
        _chat({"content": "Answer."}),
        _chat({"reasoning_content": "after"}),
        _chat({}, "stop"),
    ]
    message = _sum(list(normalize("vllm", events)))
    assert message.content == [
        {"type": "reasoning", "index": 0, "reasoning": "think more"},
        "Answer.",
        {"type": "reasoning", "index": 1, "reasoning": "after"},
    ]
    assert message.response_metadata["model_provider"] == "vllm"
