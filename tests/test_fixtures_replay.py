"""Every fixture parses through the real openai / anthropic SDKs, sync and async, in any pieces.

These tests pin the fixtures themselves (not streamtap's adapters): the SDK-level facts each
one encodes (text, tool arguments, usage, finish, ids, the exception a broken stream raises)
must match ``fixtures/scenarios.json``, and the files must be exactly what
``fixtures/build.py`` generates and follow each wire's framing rules.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import pytest
import respx

from tests import _fixtures as fx

PIECES = [None, 7, 1]
MODES = ["sync", "async"]


def _sse_cases() -> list[tuple[str, str]]:
    return [(w, s) for w in fx.WIRES for s in fx.scenarios(w) if fx.load(w, s).is_sse]


def _http_cases() -> list[tuple[str, str]]:
    return [(w, s) for w in fx.WIRES for s in fx.scenarios(w) if not fx.load(w, s).is_sse]


SSE_CASES = _sse_cases()
HTTP_CASES = _http_cases()


# ---------------------------------------------------------------------------------------------
# What a client sees, collected from raw SDK events
# ---------------------------------------------------------------------------------------------


@dataclass
class Seen:
    ids: set[str] = field(default_factory=set)
    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    signatures: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    tools: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    last_event: Any = None
    error: BaseException | None = None

    def tool(self, key: int) -> dict[str, Any]:
        return self.tools.setdefault(key, {"id": None, "name": None, "args": ""})

    def summary(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "refusal": self.refusal,
            "tool_calls": [
                {"name": t["name"], "args": json.loads(t["args"])}
                for _, t in sorted(self.tools.items())
            ],
            "redacted_thinking": bool(self.redacted),
            "finish_reason": self.finish_reason,
            "usage": self.usage,
        }


def _usage(input_: int, output: int, total: int, **details: int | None) -> dict[str, int]:
    return {
        "input_tokens": input_,
        "output_tokens": output,
        "total_tokens": total,
        "cache_read": details.get("cache_read") or 0,
        "cache_creation": details.get("cache_creation") or 0,
        "reasoning": details.get("reasoning") or 0,
    }


def _chat_event(seen: Seen, chunk: Any) -> None:
    if chunk.object == "" and not chunk.id:
        # Azure's content-filter chunks: verdicts only, no delta, every id field empty
        assert all(c.delta is None for c in chunk.choices), chunk
        return
    assert chunk.object == "chat.completion.chunk"
    seen.ids.add(chunk.id)
    if chunk.usage is not None:
        u = chunk.usage
        ptd, ctd = u.prompt_tokens_details, u.completion_tokens_details
        seen.usage = _usage(
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            cache_read=ptd.cached_tokens if ptd else 0,
            reasoning=ctd.reasoning_tokens if ctd else 0,
        )
    for choice in chunk.choices:
        d = choice.delta
        seen.text += d.content or ""
        seen.refusal += d.refusal or ""
        extra = d.model_extra or {}
        seen.reasoning += extra.get("reasoning_content") or extra.get("reasoning") or ""
        for tc in d.tool_calls or []:
            t = seen.tool(tc.index)
            if tc.id:
                assert t["id"] is None, "a tool call id must appear once"
                t["id"] = tc.id
            if tc.function and tc.function.name:
                t["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                t["args"] += tc.function.arguments
        if choice.finish_reason == "" and d.tool_calls is None:
            # xAI ends a tool-call answer with an empty reason: the calls say why it stopped
            seen.finish_reason = "tool_calls" if seen.tools else "stop"
        elif choice.finish_reason is not None:
            fr = choice.finish_reason
            seen.finish_reason = "refusal" if fr == "stop" and seen.refusal else fr


def _responses_event(seen: Seen, ev: Any) -> None:
    t = ev.type
    if t.startswith("response.") and hasattr(ev, "response"):
        seen.ids.add(ev.response.id)
    if t == "response.output_text.delta":
        seen.text += ev.delta
    elif t == "response.reasoning_summary_text.delta":
        seen.reasoning += ev.delta
    elif t == "response.refusal.delta":
        seen.refusal += ev.delta
    elif t == "response.output_item.added" and ev.item.type == "function_call":
        tool = seen.tool(ev.output_index)
        tool.update(id=ev.item.call_id, name=ev.item.name, item_id=ev.item.id)
    elif t == "response.function_call_arguments.delta":
        tool = seen.tools[ev.output_index]
        assert tool["item_id"] == ev.item_id
        tool["args"] += ev.delta
    elif t in ("response.completed", "response.incomplete"):
        r = ev.response
        if r.status == "incomplete":
            assert r.incomplete_details is not None
            seen.finish_reason = {"max_output_tokens": "length"}[r.incomplete_details.reason]
        elif seen.refusal:
            seen.finish_reason = "refusal"
        else:
            calls = [o for o in r.output if o.type == "function_call"]
            seen.finish_reason = "tool_calls" if calls else "stop"
        u = r.usage
        assert u is not None
        seen.usage = _usage(
            u.input_tokens,
            u.output_tokens,
            u.total_tokens,
            cache_read=u.input_tokens_details.cached_tokens,
            cache_creation=u.input_tokens_details.cache_write_tokens,
            reasoning=u.output_tokens_details.reasoning_tokens,
        )


_ANT_FINISH = {
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
}


def _anthropic_event(seen: Seen, ev: Any) -> None:
    t = ev.type
    assert t != "ping", "the SDK drops pings"
    if t == "message_start":
        seen.ids.add(ev.message.id)
    elif t == "content_block_start":
        block = ev.content_block
        if block.type == "tool_use":
            tool = seen.tool(ev.index)
            tool.update(id=block.id, name=block.name)
        elif block.type == "redacted_thinking":
            seen.redacted.append(block.data)
    elif t == "content_block_delta":
        d = ev.delta
        if d.type == "text_delta":
            seen.text += d.text
        elif d.type == "thinking_delta":
            seen.reasoning += d.thinking
        elif d.type == "signature_delta":
            seen.signatures.append(d.signature)
        elif d.type == "input_json_delta":
            seen.tools[ev.index]["args"] += d.partial_json
    elif t == "message_delta":
        seen.finish_reason = _ANT_FINISH[ev.delta.stop_reason]
        u = ev.usage
        read = u.cache_read_input_tokens or 0
        created = u.cache_creation_input_tokens or 0
        assert u.input_tokens is not None, "message_delta must repeat cumulative input counts"
        full_input = u.input_tokens + read + created
        details = u.output_tokens_details
        seen.usage = _usage(
            full_input,
            u.output_tokens,
            full_input + u.output_tokens,
            cache_read=read,
            cache_creation=created,
            reasoning=details.thinking_tokens if details else 0,
        )


# ---------------------------------------------------------------------------------------------
# Running one fixture through an SDK
# ---------------------------------------------------------------------------------------------

#: The wires that speak Chat Completions: OpenAI, the compatible servers and the presets
#: with fixtures of their own (Azure's filter chunks, Mistral's and xAI's whole tool calls).
CHAT = ("openai", "openai-compatible", "azure", "mistral", "xai")

_HANDLERS = {
    **dict.fromkeys(CHAT, _chat_event),
    "openai-responses": _responses_event,
    "anthropic": _anthropic_event,
}


def _request(wire: str) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Hi"}]
    if wire in CHAT:
        return {
            "model": "m",
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    if wire == "openai-responses":
        return {"model": "m", "input": "Hi", "stream": True}
    return {"model": "m", "max_tokens": 64, "messages": messages, "stream": True}


def _sync_client(wire: str) -> Any:
    if wire == "anthropic":
        return anthropic.Anthropic(api_key="test", base_url=fx.BASE_URLS[wire], max_retries=0)
    return openai.OpenAI(api_key="test", base_url=fx.BASE_URLS[wire], max_retries=0)


def _async_client(wire: str) -> Any:
    if wire == "anthropic":
        return anthropic.AsyncAnthropic(api_key="test", base_url=fx.BASE_URLS[wire], max_retries=0)
    return openai.AsyncOpenAI(api_key="test", base_url=fx.BASE_URLS[wire], max_retries=0)


def _create(client: Any, wire: str) -> Any:
    if wire == "anthropic":
        return client.messages.create(**_request(wire))
    if wire == "openai-responses":
        return client.responses.create(**_request(wire))
    return client.chat.completions.create(**_request(wire))


def _consume(seen: Seen, wire: str, events: Iterable[Any]) -> None:
    for ev in events:
        _HANDLERS[wire](seen, ev)
        seen.last_event = ev


def run_sync(wire: str, scenario: str, piece_size: int | None) -> tuple[Seen, fx.Replay]:
    seen = Seen()
    with respx.mock(assert_all_called=True) as router:
        route = fx.mock(router, wire, scenario, piece_size=piece_size)
        with _sync_client(wire) as client:
            try:
                with _create(client, wire) as stream:
                    _consume(seen, wire, stream)
            except Exception as exc:
                seen.error = exc
    replay: fx.Replay = route.side_effect
    return seen, replay


async def _aevents(stream: Any) -> AsyncIterator[Any]:
    async for ev in stream:
        yield ev


async def run_async(wire: str, scenario: str, piece_size: int | None) -> tuple[Seen, fx.Replay]:
    seen = Seen()
    with respx.mock(assert_all_called=True) as router:
        route = fx.mock(router, wire, scenario, piece_size=piece_size)
        async with _async_client(wire) as client:
            try:
                async with await _create(client, wire) as stream:
                    async for ev in _aevents(stream):
                        _HANDLERS[wire](seen, ev)
                        seen.last_event = ev
            except Exception as exc:
                seen.error = exc
    replay: fx.Replay = route.side_effect
    return seen, replay


# ---------------------------------------------------------------------------------------------
# Assertions
# ---------------------------------------------------------------------------------------------


def _check_error(wire: str, scenario: str, seen: Seen) -> None:
    err = seen.error
    if scenario == "reset":
        if wire == "anthropic":
            # The SDK's own class for a reset depends on its version (fx.ANTHROPIC_RESET_ERROR).
            assert type(err) is fx.ANTHROPIC_RESET_ERROR, repr(err)
            if fx.ANTHROPIC_RESET_ERROR is not httpx.RemoteProtocolError:
                assert isinstance(err.__cause__, httpx.RemoteProtocolError)
        else:
            assert isinstance(err, openai.APIConnectionError), repr(err)
            assert isinstance(err.__cause__, httpx.RemoteProtocolError)
        return
    if scenario in ("overloaded_midstream", "error_nested"):
        if wire == "anthropic":
            assert type(err) is anthropic.APIStatusError, repr(err)
            assert err.status_code == 200
            assert err.type == "overloaded_error"
            assert err.body == {
                "type": "error",
                "error": {"details": None, "type": "overloaded_error", "message": "Overloaded"},
            }
        else:
            assert type(err) is openai.APIError, repr(err)
            assert err.type == "server_error"
            if wire == "openai-responses":
                assert err.code == "server_error"
            else:
                assert err.message == "The server is overloaded"
        return
    assert err is None, f"{wire}/{scenario} raised {err!r}"
    if scenario == "error_flat":
        ev = seen.last_event
        assert ev.type == "error" and ev.code == "server_error" and ev.param is None
    elif scenario == "failed":
        ev = seen.last_event
        assert ev.type == "response.failed"
        assert ev.response.status == "failed"
        assert ev.response.error.code == "server_error"


def _check(wire: str, scenario: str, seen: Seen, replay: fx.Replay) -> None:
    exp = fx.expected(wire, scenario)
    _check_error(wire, scenario, seen)
    got = seen.summary()
    for key in (
        "text",
        "reasoning",
        "refusal",
        "tool_calls",
        "redacted_thinking",
        "finish_reason",
        "usage",
    ):
        assert got[key] == exp[key], f"{wire}/{scenario}: {key}: {got[key]!r} != {exp[key]!r}"
    # One stable message id; tool call ids present and distinct.
    assert len(seen.ids) == 1, seen.ids
    ids = [t["id"] for t in seen.tools.values()]
    assert all(ids) and len(set(ids)) == len(ids)
    if wire == "anthropic" and exp["reasoning"]:
        assert len(seen.signatures) == 1 and seen.signatures[0].startswith("EqQBCkgIARABGAIiQ")
    # The response was released in every case, errors included.
    assert len(replay.streams) == 1 and replay.streams[0].closed


@pytest.mark.parametrize("piece_size", PIECES, ids=lambda p: f"pieces={p}")
@pytest.mark.parametrize(("wire", "scenario"), SSE_CASES, ids=[f"{w}/{s}" for w, s in SSE_CASES])
def test_sse_fixture_sync(wire: str, scenario: str, piece_size: int | None) -> None:
    seen, replay = run_sync(wire, scenario, piece_size)
    _check(wire, scenario, seen, replay)


@pytest.mark.parametrize("piece_size", PIECES, ids=lambda p: f"pieces={p}")
@pytest.mark.parametrize(("wire", "scenario"), SSE_CASES, ids=[f"{w}/{s}" for w, s in SSE_CASES])
async def test_sse_fixture_async(wire: str, scenario: str, piece_size: int | None) -> None:
    seen, replay = await run_async(wire, scenario, piece_size)
    _check(wire, scenario, seen, replay)


_HTTP_CLASSES: dict[tuple[str, int], type[Exception]] = {
    ("openai", 400): openai.BadRequestError,
    ("openai", 401): openai.AuthenticationError,
    ("openai", 429): openai.RateLimitError,
    ("openai", 500): openai.InternalServerError,
    ("openai", 503): openai.InternalServerError,
    ("anthropic", 400): anthropic.BadRequestError,
    ("anthropic", 401): anthropic.AuthenticationError,
    ("anthropic", 429): anthropic.RateLimitError,
    ("anthropic", 500): anthropic.InternalServerError,
    ("anthropic", 529): anthropic.OverloadedError,
}


def _check_http(wire: str, scenario: str, err: BaseException | None) -> None:
    fixture = fx.load(wire, scenario)
    vendor = "anthropic" if wire == "anthropic" else "openai"
    cls = _HTTP_CLASSES[(vendor, fixture.status)]
    assert type(err) is cls, f"{wire}/{scenario}: {err!r}"
    assert isinstance(err, (openai.APIStatusError, anthropic.APIStatusError))
    assert err.status_code == fixture.status
    headers = err.response.headers
    if scenario == "http_429":
        assert headers["retry-after"] == "7"
        if vendor == "openai":
            assert headers["x-ratelimit-reset-requests"] == "6.5s"
    if vendor == "anthropic":
        assert isinstance(err, anthropic.APIStatusError)
        assert err.body == fixture.json_body
        assert err.request_id == fixture.headers["request-id"]
        assert err.type == fixture.json_body["error"]["type"]
        if scenario == "http_400_context_length":
            assert "prompt is too long: 210000 tokens > 200000 maximum" in str(err)
    else:
        assert isinstance(err, openai.APIStatusError)
        inner = fixture.json_body.get("error", fixture.json_body)
        assert err.body == inner
        assert err.request_id == fixture.headers.get("x-request-id")
        if scenario == "http_400_context_length" and wire != "openai-compatible":
            assert err.code == "context_length_exceeded"
    if scenario == "http_401":
        assert re.search(r"invalid|incorrect", str(err), re.I)


@pytest.mark.parametrize(("wire", "scenario"), HTTP_CASES, ids=[f"{w}/{s}" for w, s in HTTP_CASES])
def test_http_error_fixture_sync(wire: str, scenario: str) -> None:
    seen, _ = run_sync(wire, scenario, None)
    _check_http(wire, scenario, seen.error)


@pytest.mark.parametrize(("wire", "scenario"), HTTP_CASES, ids=[f"{w}/{s}" for w, s in HTTP_CASES])
async def test_http_error_fixture_async(wire: str, scenario: str) -> None:
    seen, _ = await run_async(wire, scenario, None)
    _check_http(wire, scenario, seen.error)


# ---------------------------------------------------------------------------------------------
# The files themselves
# ---------------------------------------------------------------------------------------------


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("_fixture_build", fx.FIXTURES / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_committed_fixtures_equal_generator_output() -> None:
    files = _build_module().build_all()
    on_disk = {
        str(p.relative_to(fx.FIXTURES)): p.read_bytes()
        for p in fx.FIXTURES.rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    }
    assert set(on_disk) == set(files), "run: python fixtures/build.py"
    for rel, data in files.items():
        assert on_disk[rel] == data, f"fixtures/{rel} differs from fixtures/build.py output"


def test_every_wire_has_the_required_scenarios() -> None:
    required = {
        "text", "unicode", "tool_call", "parallel_tool_calls", "text_then_tool_call",
        "usage_cache", "refusal", "length", "reset", "truncated", "http_429", "http_500",
        "http_401", "http_400_context_length",
    }  # fmt: skip
    assert required | {"overloaded_midstream", "http_503"} <= set(fx.scenarios("openai"))
    assert required | {
        "reasoning", "reasoning_tool_call", "error_nested", "error_flat", "failed", "http_503",
    } <= set(fx.scenarios("openai-responses"))  # fmt: skip
    assert required | {
        "reasoning", "redacted_thinking", "usage_cache_write", "overloaded_midstream", "http_529",
    } <= set(fx.scenarios("anthropic"))  # fmt: skip
    assert {"text", "tool_call", "reasoning", "usage_cache", "truncated"} <= set(
        fx.scenarios("openai-compatible")
    )


def _events(body: str) -> Iterator[list[str]]:
    for block in body.split("\n\n"):
        if block:
            yield block.split("\n")


@pytest.mark.parametrize(("wire", "scenario"), SSE_CASES, ids=[f"{w}/{s}" for w, s in SSE_CASES])
def test_sse_framing(wire: str, scenario: str) -> None:
    fixture = fx.load(wire, scenario)
    assert fixture.body is not None
    body = fixture.body.decode("utf-8")
    assert "\r" not in body
    truncated = scenario == "truncated"
    assert body.endswith("\n\n") is not truncated
    blocks = list(_events(body))
    if truncated:
        last = blocks.pop()[-1]
        with pytest.raises(json.JSONDecodeError):
            json.loads(last.removeprefix("data: "))
    payloads = []
    for lines in blocks:
        data = [ln.removeprefix("data: ") for ln in lines if ln.startswith("data: ")]
        assert len(data) == 1, lines
        if wire in ("anthropic", "openai-responses"):
            assert lines[0].startswith("event: "), f"{wire} events need an event: line: {lines}"
            obj = json.loads(data[0])
            assert lines[0] == f"event: {obj['type']}"
        else:
            assert not any(ln.startswith("event:") for ln in lines)
        if data[0] != "[DONE]":
            payloads.append(json.loads(data[0]))
    terminal = "[DONE]" if wire in CHAT else None
    if wire == "openai-responses":
        assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
        assert payloads[0]["type"] == "response.created"
        for p in payloads:
            assert ("obfuscation" in p) == p["type"].endswith(".delta"), p["type"]
    elif wire == "anthropic":
        assert payloads[0]["type"] == "message_start"
        assert {"type": "ping"} in payloads
        ends_ok = scenario in ("truncated", "overloaded_midstream")
        assert (payloads[-1]["type"] == "message_stop") is not ends_ok
    else:
        chunks = [p for p in payloads if "error" not in p]
        # Azure's filter-only chunks carry "id": "" (never the message id).
        assert len({c["id"] for c in chunks if c["id"] or wire != "azure"}) == 1
        if wire == "openai":
            assert all("obfuscation" in c and c["system_fingerprint"] for c in chunks)
        else:
            assert not any("obfuscation" in c for c in chunks)
        done_expected = scenario not in ("truncated", "overloaded_midstream")
        assert body.endswith(f"data: {terminal}\n\n") is done_expected
    if scenario == "unicode":
        assert "\\ud83d\\ude80" in body


def test_reset_offsets_land_after_three_text_deltas() -> None:
    for wire in ("openai", "openai-responses", "anthropic"):
        fixture = fx.load(wire, "reset")
        assert fixture.body is not None and fixture.reset_after is not None
        assert 0 < fixture.reset_after < len(fixture.body)
        assert fx.expected(wire, "reset")["text"] == "Hello! How"


def test_no_credential_like_strings() -> None:
    pattern = re.compile(r"sk-[A-Za-z0-9_-]{8,}|sk-ant-|api[_-]?key\s*[:=]|Bearer\s", re.I)
    for path in fx.FIXTURES.rglob("*"):
        if path.suffix in (".sse", ".json"):
            assert not pattern.search(path.read_text("utf-8")), path


# ---------------------------------------------------------------------------------------------
# The replay helper
# ---------------------------------------------------------------------------------------------


def test_load_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="known wires"):
        fx.load("openai-chat", "text")
    with pytest.raises(FileNotFoundError, match="available: "):
        fx.load("openai", "nope")


@pytest.mark.parametrize("piece_size", [None, 1, 5, 64])
def test_replay_stream_pieces_and_reset(piece_size: int | None) -> None:
    fixture = fx.load("openai", "reset")
    assert fixture.body is not None and fixture.reset_after is not None
    resp = fx.response(fixture, piece_size=piece_size)
    got = b""
    with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
        for piece in resp.iter_raw():
            assert piece_size is None or len(piece) <= piece_size
            got += piece
    assert got == fixture.body[: fixture.reset_after]


async def test_replay_stream_async_whole_body() -> None:
    fixture = fx.load("anthropic", "text")
    resp = fx.response(fixture, piece_size=3)
    assert resp.headers["content-type"].startswith("text/event-stream")
    got = b"".join([piece async for piece in resp.aiter_raw()])
    assert got == fixture.body


def test_error_fixture_response_is_json() -> None:
    resp = fx.response(fx.load("anthropic", "http_529"))
    assert resp.status_code == 529
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["error"]["type"] == "overloaded_error"


def test_mock_routes_the_wire_endpoint_and_records_the_request() -> None:
    with respx.mock(assert_all_called=True) as router:
        route = fx.mock(router, "openai-compatible", "text")
        client = openai.OpenAI(
            api_key="test", base_url=fx.BASE_URLS["openai-compatible"], max_retries=0
        )
        with client.chat.completions.create(**_request("openai-compatible")) as stream:
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello! How can I help you today?"
    body = json.loads(route.calls.last.request.content)
    assert body["stream_options"] == {"include_usage": True}


# ---------------------------------------------------------------------------------------------
# The SDKs' stream helpers are strict about ordering and ids: complete fixtures satisfy them
# ---------------------------------------------------------------------------------------------

COMPLETE_CASES = [
    (w, s)
    for w, s in SSE_CASES
    if fx.expected(w, s)["finish_reason"] is not None
    # The chat helper raises LengthFinishReasonError on finish_reason=length, and Responses'
    # get_final_response() requires response.completed (not response.incomplete).
    and not (s == "length" and w != "anthropic")
]


def _final_via_helper(wire: str) -> tuple[str, list[dict[str, Any]], str | None]:
    """Run the vendor's stream helper; return (final text, tool calls, refusal)."""
    messages: Any = [{"role": "user", "content": "Hi"}]
    if wire == "anthropic":
        ac = anthropic.Anthropic(api_key="test", base_url=fx.BASE_URLS[wire], max_retries=0)
        with ac.messages.stream(model="m", max_tokens=64, messages=messages) as stream:
            msg = stream.get_final_message()
        text = "".join(b.text for b in msg.content if b.type == "text")
        tools = [{"name": b.name, "args": b.input} for b in msg.content if b.type == "tool_use"]
        return text, tools, None
    oc = openai.OpenAI(api_key="test", base_url=fx.BASE_URLS[wire], max_retries=0)
    if wire == "openai-responses":
        with oc.responses.stream(model="m", input="Hi") as rstream:
            resp = rstream.get_final_response()
        calls = [o for o in resp.output if o.type == "function_call"]
        refusals = [
            c.refusal
            for o in resp.output
            if o.type == "message"
            for c in o.content
            if c.type == "refusal"
        ]
        tools = [{"name": c.name, "args": json.loads(c.arguments)} for c in calls]
        return resp.output_text, tools, "".join(refusals) or None
    with oc.chat.completions.stream(model="m", messages=messages) as cstream:
        completion = cstream.get_final_completion()
    m = completion.choices[0].message
    tools = [
        {"name": t.function.name, "args": json.loads(t.function.arguments)}
        for t in m.tool_calls or []
        if t.type == "function"
    ]
    return m.content or "", tools, m.refusal


@pytest.mark.parametrize(
    ("wire", "scenario"), COMPLETE_CASES, ids=[f"{w}/{s}" for w, s in COMPLETE_CASES]
)
def test_complete_fixture_satisfies_stream_helper(wire: str, scenario: str) -> None:
    exp = fx.expected(wire, scenario)
    with respx.mock(assert_all_called=True) as router:
        fx.mock(router, wire, scenario)
        text, tools, refusal = _final_via_helper(wire)
    assert text == exp["text"]
    assert tools == exp["tool_calls"]
    assert (refusal or "") == exp["refusal"]


def test_replay_stream_splits_at_arbitrary_cuts() -> None:
    fixture = fx.load("anthropic", "unicode")
    assert fixture.body is not None
    resp = fx.response(fixture, cuts=[40, 3, 3, 0, 10**9, 41])
    pieces = list(resp.iter_raw())
    assert [len(p) for p in pieces[:3]] == [3, 37, 1]
    assert b"".join(pieces) == fixture.body
    with pytest.raises(ValueError, match="not both"):
        fx.response(fixture, piece_size=2, cuts=[1])
    with pytest.raises(ValueError, match="piece_size must be"):
        fx.response(fixture, piece_size=0)
