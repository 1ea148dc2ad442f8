"""Stream items to the Platform's SSE events: names, namespaces, and the ``messages`` mode's
whole-message-so-far partials, coalesced past a size bound."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    message_chunk_to_message,
)

from streamtap.accumulate import Accumulator
from streamtap.server._serde import dumps

__all__ = ["PARTIAL_BOUND_BYTES", "PARTIAL_INTERVAL", "EventShaper"]

PARTIAL_BOUND_BYTES = 16 * 1024
"""A ``messages/partial`` event this large or larger (its data, in bytes) is coalesced."""
PARTIAL_INTERVAL = 0.1
"""Seconds between two ``messages/partial`` events of a message past the bound."""
_DELTA_EVENTS = frozenset({"on_chat_model_stream", "on_llm_stream"})


class EventShaper:
    """Stream items to SSE events, named as LangGraph Platform names them.

    ``messages`` mode, as the Platform has it: ``messages/metadata`` once per message,
    then per chunk a ``messages/partial`` carrying the whole message so far. That is
    quadratic in bytes, so past ``partial_bound`` bytes (the event's data; ``None``:
    never) a message's partials are coalesced: at most one per ``partial_interval``
    seconds of ``clock``, the chunks between summed but not sent. Its newest state is
    never lost: it is sent at once for a chunk with ``chunk_position="last"``, before
    any other event the run publishes (:meth:`flush`; the per-chunk deltas of
    ``messages-tuple`` and of the ``events`` mode excepted: they carry no state, and
    flushing before each would send every partial again), and when the run's stream
    ends (``RunManager.run_graph`` calls :meth:`flush` on success, error and cancel).
    """

    def __init__(
        self,
        modes: list[str],
        *,
        partial_bound: int | None = PARTIAL_BOUND_BYTES,
        partial_interval: float = PARTIAL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tuples = "messages-tuple" in modes
        self.accumulate = "messages" in modes
        self.plain = frozenset(modes) - {"messages", "messages-tuple"}
        self.tuples_only = self.tuples and not self.accumulate
        self.partial_bound = partial_bound
        self.partial_interval = partial_interval
        self.clock = clock
        self._messages: dict[str, BaseMessage] = {}
        #: a coalesced message's AI chunks not yet summed into ``_messages`` (summed
        #: when its partial is sent, in linear time)
        self._later: dict[str, Accumulator] = {}
        #: messages whose partial reached the bound -> when their last partial went
        self._large: dict[str, float] = {}
        #: coalesced messages whose newest state is not sent yet -> their event suffix
        self._pending: dict[str, str] = {}

    def events(self, ns: tuple[str, ...], mode: str, payload: Any) -> Sequence[tuple[str, bytes]]:
        if self.tuples_only and mode == "messages" and not ns:  # every token of messages-tuple
            return (("messages", dumps(payload)),)
        return list(self._events(ns, mode, payload))

    def _events(self, ns: tuple[str, ...], mode: str, payload: Any) -> Iterator[tuple[str, bytes]]:
        suffix = "|" + "|".join(ns) if ns else ""
        if mode != "messages":
            if mode in self.plain:
                if self._pending:
                    yield from self.flush()
                yield mode + suffix, dumps(payload)
            return
        if self.tuples:
            yield "messages" + suffix, dumps(payload)
        if self.accumulate:
            yield from self._accumulated(suffix, payload)

    def raw(self, name: str, item: Any) -> Iterator[tuple[str, bytes]]:
        """An event published as it is (the ``events`` mode): held-back partials first,
        unless it is a model's token."""
        if self._pending and item.get("event") not in _DELTA_EVENTS:
            yield from self.flush()
        yield name, dumps(item)

    def flush(self) -> Iterator[tuple[str, bytes]]:
        """The newest state of every message whose ``messages/partial`` was held back."""
        pending, self._pending = self._pending, {}
        now = self.clock() if pending else 0.0
        for key, suffix in pending.items():
            self._large[key] = now
            yield "messages/partial" + suffix, self._partial(key)

    def _accumulated(self, suffix: str, payload: Any) -> Iterator[tuple[str, bytes]]:
        """The Platform's ``messages`` mode: metadata once, then the message so far."""
        msg, meta = payload
        key = str(msg.id)
        seen = self._messages.get(key)
        chunk = isinstance(msg, BaseMessageChunk)
        if seen is None:
            if self._pending:
                yield from self.flush()
            self._messages[key] = msg
            yield "messages/metadata" + suffix, dumps({key: {"metadata": meta}})
        elif chunk and isinstance(seen, BaseMessageChunk):
            if key in self._large:
                self._add_later(key, seen, msg)
            else:
                self._messages[key] = _sum(seen, msg)
        else:  # a complete message, or a chunk after one: it replaces what came before
            self._later.pop(key, None)
            self._large.pop(key, None)
            self._pending.pop(key, None)
            self._messages[key] = msg
        if not chunk:
            if self._pending:
                yield from self.flush()
            yield "messages/complete" + suffix, dumps([msg])
            return
        now: float | None = None
        if key in self._large:
            now = self.clock()
            last = getattr(msg, "chunk_position", None) == "last"
            if not last and now - self._large[key] < self.partial_interval:
                self._pending[key] = suffix  # sent later, or flushed
                return
        self._pending.pop(key, None)
        if self._pending:
            yield from self.flush()
        data = self._partial(key)
        yield "messages/partial" + suffix, data
        if now is not None:
            self._large[key] = now
        elif self.partial_bound is not None and len(data) >= self.partial_bound:
            self._large[key] = self.clock()  # coalesced from its next chunk on

    def _add_later(self, key: str, seen: BaseMessageChunk, msg: BaseMessageChunk) -> None:
        """Sum a coalesced message's chunk without building the message (O(1) for a
        text, reasoning or tool-argument delta)."""
        if isinstance(msg, AIMessageChunk):
            later = self._later.get(key)
            if later is None and isinstance(seen, AIMessageChunk):
                later = self._later[key] = Accumulator()
                later.add(seen)
            if later is not None:
                later.add(msg)
                return
        self._messages[key] = _sum(cast(BaseMessageChunk, self._whole(key)), msg)

    def _whole(self, key: str) -> BaseMessage:
        later = self._later.pop(key, None)
        if later is not None:
            summed = later.message()
            assert summed is not None  # the message so far went in first
            self._messages[key] = summed
        return self._messages[key]

    def _partial(self, key: str) -> bytes:
        whole = self._whole(key)
        out = message_chunk_to_message(whole) if isinstance(whole, BaseMessageChunk) else whole
        return dumps([out])


def _sum(seen: BaseMessageChunk, msg: BaseMessageChunk) -> BaseMessageChunk:
    """``seen + msg``, through :class:`Accumulator` for AI chunks.

    The ``+`` of langchain-core re-validates the whole message and copies its
    content so far for every chunk; the accumulator extends a run of plain deltas
    (text, one reasoning block) by joining strings and copying the model shallowly,
    and gives the same message (``Accumulator`` is tested against ``reduce(add)``).
    Every ``messages/partial`` event still carries the whole message so far: that
    is the Platform's protocol, so serialising it stays proportional to its size.
    """
    if isinstance(seen, AIMessageChunk) and isinstance(msg, AIMessageChunk):
        acc = Accumulator()
        acc.add(seen)
        acc.add(msg)
        summed = acc.message()
        assert summed is not None  # two chunks went in
        return summed
    return seen + msg
