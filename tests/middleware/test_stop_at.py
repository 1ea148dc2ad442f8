"""stop_at: stop sequences applied to any model's stream, the same scanner the Responses fold uses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

from streamtap._stop import StopScanner
from streamtap.middleware import coalesce, stop_at, with_transforms
from streamtap.providers.openai_responses import ResponsesMapper
from tests.middleware.test_transforms import text, text_chunks, total


def cut(full: str, stops: list[str]) -> str:
    hits = [i for i in (full.find(s) for s in stops) if i >= 0]
    return full[: min(hits)] if hits else full


def test_the_text_is_cut_at_the_first_stop_and_the_last_chunk_survives() -> None:
    chunks = text_chunks(["Hel", "lo EN", "D more", " text"])
    out = list(stop_at("END").stream(chunks))
    assert [c.content for c in out] == ["Hel", "lo ", ""]
    assert out[-1].chunk_position == "last" and out[-1].usage_metadata is not None
    assert total(out).content == "Hello "
    assert total(out).response_metadata == {"finish_reason": "stop"}


def test_a_held_prefix_that_is_not_a_stop_is_released() -> None:
    chunks = text_chunks(["a E", "N", "ough"])  # "EN" could start "END"; "ENough" is not it
    out = list(stop_at("END").stream(chunks))
    assert [c.content for c in out] == ["a ", "ENough", ""]


def test_text_held_at_the_end_of_a_stream_without_a_last_chunk_is_released() -> None:
    chunks = [AIMessageChunk(content="x EN", id="m")]
    out = list(stop_at("END").stream(chunks))
    assert text(out) == "x EN"


def test_tool_calls_and_other_messages_pass() -> None:
    tool = AIMessageChunk(
        content="",
        id="m",
        tool_call_chunks=[{"name": "f", "args": "END", "id": "c", "index": 0}],
    )
    assert list(stop_at("END").stream([tool])) == [tool]


@pytest.mark.parametrize("bad", [(), ("",), (1,)])
def test_stop_at_needs_sequences(bad: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError, match="stop_at"):
        stop_at(*bad)


_alphabet = "abEND "


@given(
    tokens=st.lists(st.text(alphabet=_alphabet, max_size=6), max_size=12),
    stops=st.lists(st.text(alphabet=_alphabet, min_size=1, max_size=4), min_size=1, max_size=3),
)
def test_any_chunking_shows_the_text_cut_at_the_first_stop(
    tokens: list[str], stops: list[str]
) -> None:
    out = list(stop_at(*stops).stream(text_chunks(tokens)))
    assert text(out) == cut("".join(tokens), stops)
    # the same scanner the Responses fold applies
    mapper = ResponsesMapper(stop=stops)
    events = [{"type": "response.output_text.delta", "delta": t} for t in tokens]
    events.append({"type": "response.completed", "response": {"status": "completed"}})
    shown = "".join(c.content for e in events for c in mapper.feed(e) if isinstance(c.content, str))
    scanner = StopScanner(stops)
    direct = "".join(scanner.feed(t) for t in tokens) + scanner.flush()
    assert shown == direct == cut("".join(tokens), stops)


def test_stop_at_composes_with_a_model(router: Any) -> None:
    from tests import _fixtures as F
    from tests.middleware.conftest import model

    F.mock(router, "openai", "text")
    expected = F.expected("openai", "text")["text"]
    stop = expected[3:6]
    wrapped = with_transforms(
        model("openai"), stop_at(stop), coalesce(max_chars=1000, max_delay_ms=None)
    )
    message = wrapped.invoke("hi")
    assert message.content == cut(expected, [stop])
