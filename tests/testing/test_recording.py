"""Record through the real SDKs against a loopback SSE server, then replay."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path

import anthropic
import httpx2
import openai

from streamtap.testing import (
    REDACTED,
    Interaction,
    load_interactions,
    use_cassette,
)
from tests.testing.conftest import (
    ALL_SECRETS,
    ANTHROPIC_KEY,
    BODY_SECRET,
    HEADER_SECRET,
    OPENAI_KEY,
    QUERY_SECRET,
)
from tests.testing.sse_server import FIRST_DELAY, SSEServer, delays, fixture_events

MESSAGES = [{"role": "user", "content": "Say hello"}]
TOLERANCE = 0.020  # the bound for first-token time and each inter-chunk gap


def _openai(server: SSEServer) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url + "/v1",
        api_key=OPENAI_KEY,
        max_retries=0,
        default_query={"api-key": QUERY_SECRET},
        default_headers={"x-custom-token": HEADER_SECRET},
    )


def _anthropic(server: SSEServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.base_url,
        api_key=ANTHROPIC_KEY,
        max_retries=0,
        default_headers={"x-custom-token": HEADER_SECRET, "x-api-key": ANTHROPIC_KEY},
    )


def _stream_openai(client: openai.OpenAI, model: str = "gpt-4o") -> tuple[list[float], list[str]]:
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        extra_body={"metadata": {"api_key": BODY_SECRET}},
    )
    times: list[float] = []
    events: list[str] = []
    for event in stream:
        times.append(time.perf_counter() - start)
        events.append(event.model_dump_json())
    return times, events


async def _stream_anthropic(
    client: anthropic.AsyncAnthropic, model: str = "claude-sonnet-4-6"
) -> tuple[list[float], list[str]]:
    start = time.perf_counter()
    stream = await client.messages.create(
        model=model,
        max_tokens=64,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        metadata={"user_id": "Bearer " + BODY_SECRET},
    )
    times: list[float] = []
    events: list[str] = []
    async for event in stream:
        times.append(time.perf_counter() - start)
        events.append(event.model_dump_json())
    return times, events


ATTEMPTS = 3
"""Replays allowed per check: on a shared, overloaded CI core a descheduled thread can
wake tens of milliseconds late. The pacing is deterministic, so one clean replay out
of three shows the mechanism meets the bound; a real pacing bug fails all three."""


def _timing_errors(live: list[float], replay: list[float], path: Path) -> list[str]:
    """How replay timing misses the bound, versus the consumer's live view and the recording."""
    recorded = [chunk.offset for chunk in load_interactions(path)[0].response.chunks]
    assert len(live) == len(replay)
    errors = []
    if abs(replay[0] - live[0]) > TOLERANCE:
        errors.append(f"first token: live {live[0]:.3f}s, replay {replay[0]:.3f}s")
    for index, ((live_a, live_b), (replay_a, replay_b)) in enumerate(
        zip(pairwise(live), pairwise(replay), strict=True), start=1
    ):
        if abs((replay_b - replay_a) - (live_b - live_a)) > TOLERANCE:
            errors.append(
                f"gap {index}: live {live_b - live_a:.3f}s, replay {replay_b - replay_a:.3f}s"
            )
    if not recorded[0] <= replay[0] <= recorded[0] + TOLERANCE:
        errors.append(f"first chunk: recorded {recorded[0]:.3f}s, replay {replay[0]:.3f}s")
    return errors


def _assert_no_secret(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    for secret in ALL_SECRETS:
        assert secret not in raw
    assert REDACTED in raw


def test_openai_sync_record_then_replay_keeps_boundaries_and_timing(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "openai.json"
    client = _openai(sse_server)
    _stream_openai(client, model="warmup")  # first-use costs must not skew the live timing

    with use_cassette(path, record_mode="once") as cassette:
        live_times, live_events = _stream_openai(client)
    assert len(cassette.recorded) == 1

    # The consumer saw tokens live while recording, not one buffered body at the end.
    expected_delays = delays(len(fixture_events("openai")))
    assert live_times[0] >= FIRST_DELAY - 0.005
    assert live_times[-1] - live_times[0] >= 0.8 * sum(expected_delays[1:-1])
    # The real key reached the real endpoint; only the file is redacted.
    sent = sse_server.received[-1]
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert QUERY_SECRET in sent.path
    assert BODY_SECRET.encode() in sent.body

    _assert_no_secret(path)
    (interaction,) = load_interactions(path)
    assert [chunk.data for chunk in interaction.response.chunks] == fixture_events("openai")
    offsets = [chunk.offset for chunk in interaction.response.chunks]
    assert offsets == sorted(offsets)
    assert interaction.request.header("authorization") == REDACTED
    assert interaction.request.header("x-custom-token") == REDACTED
    assert "api-key=REDACTED" in interaction.request.url
    assert interaction.request.json()["metadata"] == {"api_key": REDACTED}
    assert interaction.response.header("set-cookie") == REDACTED
    assert interaction.response.header("openai-organization") == REDACTED

    received_before = len(sse_server.received)
    failures = []
    for _ in range(ATTEMPTS):
        with use_cassette(path, pace="recorded") as replay:
            replay_times, replay_events = _stream_openai(client)
        assert replay_events == live_events
        assert replay.all_played
        failures.append(_timing_errors(live_times, replay_times, path))
        if not failures[-1]:
            break
    assert not failures[-1], failures

    with use_cassette(path) as instant:
        instant_times, instant_events = _stream_openai(client)
    assert instant_events == live_events
    assert instant_times[-1] < 0.5
    assert instant.play_count == 1
    assert len(sse_server.received) == received_before  # replays never touched the server


def test_replay_yields_the_recorded_chunk_boundaries_to_raw_httpx2(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "raw.json"
    url = sse_server.base_url + "/v1/chat/completions"
    body = {"model": "gpt-4o", "stream": True, "messages": MESSAGES}
    with (
        use_cassette(path, record_mode="once") as cassette,
        httpx2.Client() as client,
        client.stream("POST", url, json=body) as response,
    ):
        live_chunks = list(response.iter_raw())
    assert cassette.recorded[0].response.complete
    assert live_chunks == fixture_events("openai")

    with use_cassette(path, pace=4.0), httpx2.Client() as client:
        start = time.perf_counter()
        with client.stream("POST", url, json=body) as replay:
            replayed = list(replay.iter_raw())
        elapsed = time.perf_counter() - start
    assert replayed == live_chunks
    recorded_total = load_interactions(path)[0].response.chunks[-1].offset
    assert elapsed >= recorded_total / 4.0 - TOLERANCE


async def test_anthropic_async_record_then_replay(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "anthropic.json"
    client = _anthropic(sse_server)
    await _stream_anthropic(client, model="warmup")

    async with use_cassette(path, record_mode="once"):
        live_times, live_events = await _stream_anthropic(client)
    sent = sse_server.received[-1]
    assert sent.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY

    _assert_no_secret(path)
    (interaction,) = load_interactions(path)
    assert [chunk.data for chunk in interaction.response.chunks] == fixture_events("anthropic")
    assert interaction.request.header("authorization") == REDACTED
    assert interaction.request.header("x-api-key") == REDACTED
    assert interaction.request.json()["metadata"] == {"user_id": f"Bearer {REDACTED}"}

    failures = []
    for _ in range(ATTEMPTS):
        async with use_cassette(path, pace="recorded"):
            replay_times, replay_events = await _stream_anthropic(client)
        assert replay_events == live_events
        failures.append(_timing_errors(live_times, replay_times, path))
        if not failures[-1]:
            break
    assert not failures[-1], failures

    async with use_cassette(path, pace="instant"):
        instant_times, instant_events = await _stream_anthropic(client)
    assert instant_events == live_events
    assert instant_times[-1] < 0.5


def test_compressed_non_streaming_body_is_stored_decoded(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "gzip.json"
    client = _openai(sse_server)
    with use_cassette(path, record_mode="once"):
        live = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    document = json.loads(path.read_text(encoding="utf-8"))
    response = document["interactions"][0]["response"]
    assert "content-encoding" not in response["headers"]
    assert "content-length" not in response["headers"]
    assert json.loads("".join(chunk["text"] for chunk in response["chunks"]))["id"] == (
        "chatcmpl-loopback"
    )
    with use_cassette(path):
        replayed = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert replayed.model_dump() == live.model_dump()


def _ask(client: openai.OpenAI, content: str) -> str:
    reply = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": content}],
    )
    return str(reply.choices[0].message.content)


def test_once_keeps_an_existing_cassette_and_new_episodes_appends(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "modes.json"
    client = _openai(sse_server)
    with use_cassette(path, record_mode="once"):
        _ask(client, "first")
    original = path.read_text(encoding="utf-8")

    with use_cassette(path, record_mode="once") as cassette:
        _ask(client, "first")
    assert path.read_text(encoding="utf-8") == original
    assert cassette.recorded == []

    with use_cassette(path, record_mode="new_episodes") as cassette:
        _ask(client, "first")  # replayed
        _ask(client, "second")  # recorded
    assert cassette.play_count == 1
    bodies = [item.request.json()["messages"][0]["content"] for item in load_interactions(path)]
    assert bodies == ["first", "second"]

    served = len(sse_server.received)
    with use_cassette(path, record_mode="all") as cassette:
        _ask(client, "third")
    assert cassette.play_count == 0
    assert len(sse_server.received) == served + 1
    bodies = [item.request.json()["messages"][0]["content"] for item in load_interactions(path)]
    assert bodies == ["third"]


def test_user_redact_hook_runs_after_default_redaction(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "hook.json"
    seen: list[Interaction] = []

    def scrub(interaction: Interaction) -> None:
        seen.append(interaction)
        interaction.request.headers = [
            (name, value) for name, value in interaction.request.headers if name != "user-agent"
        ]
        body = interaction.request.json()
        body["messages"][0]["content"] = "<prompt>"
        interaction.request.body = json.dumps(body).encode()

    client = _openai(sse_server)
    with use_cassette(path, record_mode="once", redact=scrub):
        _ask(client, "my private prompt")
    assert seen and seen[0].request.header("authorization") == REDACTED
    raw = path.read_text(encoding="utf-8")
    assert "my private prompt" not in raw
    assert "user-agent" not in raw

    # The hook also shapes live requests before matching, so the cassette replays.
    with use_cassette(path, redact=scrub) as cassette:
        assert _ask(client, "my private prompt") == "Hello from loopback"
    assert cassette.play_count == 1


def test_a_consumer_closing_early_records_a_partial_stream(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "partial.json"
    client = _openai(sse_server)
    with use_cassette(path, record_mode="once"):
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        first = next(iter(stream))
        stream.close()
    (interaction,) = load_interactions(path)
    assert not interaction.response.complete
    assert 1 <= len(interaction.response.chunks) < len(fixture_events("openai"))

    with use_cassette(path):
        replayed = client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        assert next(iter(replayed)).model_dump() == first.model_dump()
        replayed.close()


def test_recording_mode_never_replays_what_it_records_in_the_same_session(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / "twice.json"
    client = _openai(sse_server)
    before = len(sse_server.received)
    with use_cassette(path, record_mode="once"):
        _ask(client, "same")
        _ask(client, "same")
    assert len(sse_server.received) == before + 2
    with use_cassette(path) as cassette:
        _ask(client, "same")
        _ask(client, "same")
    assert cassette.all_played
