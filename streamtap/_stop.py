"""Stop sequences applied to streamed text, for wires and servers that do not apply them.

The OpenAI Responses API has no ``stop`` parameter, so its fold cuts the text
itself; the ``stop_at`` transform does the same for any model whose server
ignores ``stop``. Text that could be the start of a stop sequence is held back
until the next delta says whether it is: what the user sees never contains a
stop sequence, and never loses text that turned out not to be one.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopScanner"]


class StopScanner:
    """Feeds text deltas; says what may be shown and whether a stop sequence was hit."""

    __slots__ = ("held", "stopped", "stops")

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.held = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """The part of ``delta`` (with earlier held text) that can be shown now."""
        if self.stopped:
            return ""
        text = self.held + delta
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            self.held = ""
            return text[: min(hits)]
        hold = max(
            (
                j
                for s in self.stops
                for j in range(min(len(s) - 1, len(text)), 0, -1)
                if text.endswith(s[:j])
            ),
            default=0,
        )
        self.held = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """What is still held once the text ends: it was not a stop sequence after all."""
        held, self.held = self.held, ""
        return held
