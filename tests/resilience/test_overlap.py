"""OverlapTrim: a user-turn continuation that restates the shown text is trimmed, once.

The property that matters for streaming: what the user sees does not depend on how the
continuation was chunked on the wire.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamtap.resilience._recovery import OverlapTrim

SHOWN = "TCP slow start begins with a small congestion window "


def run(shown: str, chunks: list[str]) -> str:
    trim = OverlapTrim(shown)
    return "".join(trim.feed(chunk) for chunk in chunks) + trim.finish()


@pytest.mark.parametrize(
    ("continuation", "seen"),
    [
        # the whole answer restated, then the rest
        (SHOWN + "that doubles every round trip.", "that doubles every round trip."),
        # the last words restated
        ("a small congestion window that doubles.", "that doubles."),
        ("congestion window that doubles.", "that doubles."),
        # a plain continuation flows unchanged
        ("that doubles every round trip.", "that doubles every round trip."),
        # a tail shorter than 8 characters is not taken for a repeat
        ("window panes", "window panes"),
        # leading whitespace is dropped when the shown text already ends in a space
        ("  that doubles.", "that doubles."),
    ],
)
def test_the_restated_part_is_dropped(continuation: str, seen: str) -> None:
    assert run(SHOWN, [continuation]) == seen
    assert run(SHOWN, list(continuation)) == seen  # one character per chunk


def test_a_mid_word_cut_keeps_the_space_the_model_sends() -> None:
    assert run("TCP slow start", [" begins now."]) == " begins now."
    assert run("TCP slow start", ["TCP slow start begins now."]) == " begins now."


def test_text_is_held_only_while_it_could_be_a_repeat() -> None:
    trim = OverlapTrim(SHOWN)
    assert trim.feed("a small cong") == ""  # still the start of a shown tail
    assert trim.feed("ress") == "a small congress"  # diverged: all of it flows
    assert trim.feed(" passed") == " passed"  # and nothing is held after that
    assert trim.finish() == ""


def test_a_continuation_that_ends_inside_a_repeat_is_shown_at_finish() -> None:
    trim = OverlapTrim(SHOWN)
    assert trim.feed("a small congestion") == ""
    assert trim.finish() == "a small congestion"


_words = st.text(alphabet="abcdeft ", min_size=1, max_size=60)


@given(shown=_words, continuation=st.text(alphabet="abcdeft .", max_size=80), data=st.data())
def test_what_is_seen_does_not_depend_on_chunking(
    shown: str, continuation: str, data: st.DataObject
) -> None:
    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(continuation)), max_size=len(continuation)))
    )
    chunks = [
        continuation[a:b] for a, b in zip([0, *cuts], [*cuts, len(continuation)], strict=True)
    ]
    assert run(shown, chunks) == run(shown, [continuation])


@given(shown=_words, rest=st.text(alphabet="xyz .", min_size=1, max_size=40))
def test_nothing_but_the_overlap_is_ever_dropped(shown: str, rest: str) -> None:
    seen = run(shown, [rest])
    # `rest` shares no letter with `shown`, so nothing of it can be a repeat.
    assert seen in (rest, rest.lstrip())
    if not shown[-1:].isspace():
        assert seen == rest


def test_a_word_being_finished_is_not_a_repeat() -> None:
    shown = "the congestion window "
    assert run(shown, ["congestion windows are"]) == "congestion windows are"
    assert run(shown, list("congestion windows are")) == "congestion windows are"
    assert run(shown, ["congestion window, then"]) == ", then"
