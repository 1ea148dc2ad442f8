"""Matching live requests to recorded ones, and failing loudly when none fits."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from streamtap.testing import (
    REDACTED,
    CassetteMismatchError,
    CassetteNotFoundError,
    Chunk,
    Interaction,
    MatchOn,
    RecordedRequest,
    RecordedResponse,
    StreamError,
    save_interactions,
    use_cassette,
)
from tests.testing.conftest import ANTHROPIC_KEY, OPENAI_KEY, QUERY_SECRET
from tests.testing.sse_server import SSEServer, fixture_events

CHAT_URL = "https://api.openai.com/v1/chat/completions"


def _interaction(
    body: Any,
    chunks: list[bytes],
    *,
    url: str = CHAT_URL,
    content_type: str = "text/event-stream",
    error: StreamError | None = None,
) -> Interaction:
    return Interaction(
        request=RecordedRequest(
            method="POST",
            url=url,
            headers=[("content-type", "application/json")],
            body=json.dumps(body).encode(),
        ),
        response=RecordedResponse(
            status=200,
            headers=[("content-type", content_type)],
            headers_offset=0.001,
            chunks=[Chunk(offset=0.01 * (i + 1), data=data) for i, data in enumerate(chunks)],
            error=error,
        ),
    )


def _json_reply(body: Any, reply: Any, **kwargs: Any) -> Interaction:
    return _interaction(
        body, [json.dumps(reply).encode()], content_type="application/json", **kwargs
    )


def _post(client: httpx2.Client, body: Any, url: str = CHAT_URL) -> Any:
    return client.post(url, content=json.dumps(body).encode()).json()


def test_json_key_order_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({"a": 1, "b": {"x": 1, "y": 2}}, {"ok": 1})])
    with use_cassette(path), httpx2.Client() as client:
        assert _post(client, {"b": {"y": 2, "x": 1}, "a": 1}) == {"ok": 1}


def test_query_parameter_order_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({}, {"ok": 1}, url=CHAT_URL + "?a=1&b=2")])
    with use_cassette(path), httpx2.Client() as client:
        assert _post(client, {}, url=CHAT_URL + "?b=2&a=1") == {"ok": 1}


def test_identical_requests_replay_in_recorded_order(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    body = {"q": "same"}
    save_interactions(path, [_json_reply(body, {"n": 1}), _json_reply(body, {"n": 2})])
    replies = []
    with pytest.raises(CassetteMismatchError, match="already replayed"):  # noqa: SIM117
        with use_cassette(path), httpx2.Client() as client:
            replies.append(_post(client, body))
            replies.append(_post(client, body))
            _post(client, body)
    assert replies == [{"n": 1}, {"n": 2}]


def test_swallowed_mismatch_fails_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({"q": 1}, {"n": 1})])
    # The innermost suppress() plays application code that swallows every error:
    # it must not hide the mismatch.
    with (
        pytest.raises(CassetteMismatchError),
        use_cassette(path),
        httpx2.Client() as client,
        contextlib.suppress(BaseException),
    ):
        _post(client, {"q": 2})


def test_unmatched_request_shows_closest_request_and_body_diff_without_network(
    tmp_path: Path, sse_server: SSEServer
) -> None:
    url = sse_server.base_url + "/v1/chat/completions"
    path = tmp_path / "c.json"
    save_interactions(
        path,
        [
            _json_reply({"model": "gpt-4o", "messages": [{"content": "hello"}]}, {}, url=url),
            _json_reply({"model": "other", "input": "unrelated text"}, {}, url=url + "/x"),
        ],
    )
    with pytest.raises(CassetteMismatchError) as info:  # noqa: SIM117
        with use_cassette(path), httpx2.Client() as client:
            _post(client, {"model": "gpt-4o", "messages": [{"content": "goodbye"}]}, url=url)
    message = str(info.value)
    assert sse_server.received == []
    assert f"no recorded interaction matches POST {url}" in message
    assert "Closest recorded request: #1 of 2 (not replayed yet)" in message
    assert '-      "content": "hello"' in message
    assert '+      "content": "goodbye"' in message
    assert "--record-mode=new_episodes" in message


def test_empty_cassette_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [])
    with pytest.raises(CassetteMismatchError, match="holds no interactions"):  # noqa: SIM117
        with use_cassette(path), httpx2.Client() as client:
            _post(client, {})


def _openai_client(**kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, **kwargs)


def test_sdks_surface_the_mismatch_unwrapped_and_do_not_retry(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({"unrelated": True}, {})])
    client = _openai_client()  # default max_retries=2
    with pytest.raises(CassetteMismatchError) as info:  # noqa: SIM117
        with use_cassette(path) as cassette:
            client.chat.completions.create(model="gpt-4o", messages=[])
    assert "Closest recorded request" in str(info.value)
    assert len(cassette.mismatches) == 1


async def test_async_anthropic_surfaces_the_mismatch_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({"unrelated": True}, {})])
    client = anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY)  # default max_retries=2
    with pytest.raises(CassetteMismatchError):
        async with use_cassette(path) as cassette:
            await client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=[])
    assert len(cassette.mismatches) == 1


def test_live_secrets_match_the_redacted_recording(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    url = CHAT_URL + "?api-key=" + REDACTED
    save_interactions(path, [_json_reply({"api_key": REDACTED, "q": 1}, {"ok": True}, url=url)])
    with use_cassette(path), httpx2.Client() as client:
        reply = _post(
            client, {"api_key": QUERY_SECRET, "q": 1}, url=CHAT_URL + "?api-key=" + QUERY_SECRET
        )
    assert reply == {"ok": True}


@pytest.mark.parametrize(
    ("match_on", "live_body", "live_url"),
    [
        (MatchOn(ignore_keys=("user",)), {"q": 1, "user": "u2", "meta": {"user": "x"}}, CHAT_URL),
        (
            MatchOn(ignore_keys=("meta.trace",)),
            {"q": 1, "user": "u1", "meta": {"user": "a", "trace": 9}},
            CHAT_URL,
        ),
        (
            MatchOn(ignore_query=("ts",)),
            {"q": 1, "user": "u1", "meta": {"user": "a"}},
            CHAT_URL + "?ts=5",
        ),
        (("method", "url"), {"anything": "goes"}, CHAT_URL),
        (MatchOn(body=False, also=lambda rec, live: live.header("x-run") == "7"), {}, CHAT_URL),
        (lambda recorded, live: live.url.endswith("/completions"), {"x": 1}, CHAT_URL),
    ],
)
def test_matching_is_configurable(
    tmp_path: Path, match_on: Any, live_body: Any, live_url: str
) -> None:
    path = tmp_path / "c.json"
    recorded = {"q": 1, "user": "u1", "meta": {"user": "a"}}
    save_interactions(path, [_json_reply(recorded, {"ok": True})])
    with use_cassette(path, match_on=match_on), httpx2.Client(headers={"x-run": "7"}) as client:
        assert _post(client, live_body, url=live_url) == {"ok": True}


def test_ignore_keys_do_not_hide_other_differences(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({"q": 1, "user": "a"}, {})])
    with pytest.raises(CassetteMismatchError):  # noqa: SIM117
        with use_cassette(path, match_on=MatchOn(ignore_keys=("user",))), httpx2.Client() as client:
            _post(client, {"q": 2, "user": "b"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pace": 0}, "positive"),
        ({"pace": "fast"}, "'instant', 'recorded'"),
        ({"pace": float("nan")}, "positive finite"),
        ({"record_mode": "sometimes"}, "none, once, new_episodes, all, rewrite"),
        ({"match_on": ("headers",)}, "unknown field"),
        ({"match_on": "body"}, "sequence of field names"),
        ({"redact": "yes"}, "callable"),
    ],
)
def test_bad_arguments_fail_at_once_with_a_hint(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        use_cassette("unused.json", **kwargs)


def test_missing_cassette_in_replay_mode_says_how_to_record(tmp_path: Path) -> None:
    with pytest.raises(CassetteNotFoundError, match="--record-mode=once"):  # noqa: SIM117
        with use_cassette(tmp_path / "missing.json"):
            pass


def test_decorator_sync_and_async(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "c.json"
    save_interactions(path, [_json_reply({"q": 1}, {"n": 1})])

    @use_cassette(path)
    def sync_call() -> Any:
        with httpx2.Client() as client:
            return _post(client, {"q": 1})

    @use_cassette(path)
    async def async_call() -> Any:
        async with httpx2.AsyncClient() as client:
            response = await client.post(CHAT_URL, json={"q": 1})
            return response.json()

    assert sync_call() == {"n": 1}
    assert sync_call() == {"n": 1}  # every call is a fresh session
    assert asyncio.run(async_call()) == {"n": 1}


def test_recorded_transport_error_replays_as_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    events = fixture_events("openai")[:3]
    error = StreamError("RemoteProtocolError", "peer closed connection", 0.05)
    save_interactions(path, [_interaction({"q": 1}, events, error=error)])
    received: list[bytes] = []
    with (
        use_cassette(path),
        httpx2.Client() as client,
        client.stream("POST", CHAT_URL, json={"q": 1}) as response,
        pytest.raises(httpx2.RemoteProtocolError, match="peer closed"),
    ):
        for data in response.iter_raw():
            received.append(data)
    assert received == events


def test_no_request_escapes_while_a_cassette_is_active(tmp_path: Path) -> None:
    """Even a brand-new client created inside the block is routed through the cassette."""
    path = tmp_path / "c.json"
    save_interactions(path, [])
    with pytest.raises(CassetteMismatchError):  # noqa: SIM117
        with use_cassette(path):
            client = httpx2.Client(transport=httpx2.HTTPTransport(retries=0))
            client.get("http://127.0.0.1:9/never")


def test_patches_are_removed_on_exit(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, [])
    original = httpx2.Client._transport_for_url
    with use_cassette(path):
        assert httpx2.Client._transport_for_url is not original
    assert httpx2.Client._transport_for_url is original
