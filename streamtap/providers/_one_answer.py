"""One answer per request: several (``n``, ``candidateCount``) are refused before sending.

A stream of chunks folds into one message. A vendor asked for several answers streams
them interleaved in one body; keeping the first and dropping the rest would lose them
without a word, so the request is refused, saying what to do instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["refuse_several_answers"]


def refuse_several_answers(parameter: str, value: Any) -> None:
    """Raise ``ValueError`` when ``parameter`` asks for more than one answer."""
    if value is not None and value != 1:
        raise ValueError(
            f"{parameter}={value!r} is not supported: streamtap streams one answer per "
            "request; make that many requests (model.batch) instead"
        )
