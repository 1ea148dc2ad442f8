"""The ``lifecycle`` stream mode: subgraphs starting and ending, as LangGraph reports them.

No graph streams ``lifecycle`` itself (it is not one of ``stream()``'s modes). LangGraph's
v3 run stream infers it from the ``tasks`` parts of a run streamed with ``subgraphs=True``:
``langgraph.stream.LifecycleTransformer`` emits ``{"event": "started" | "completed" |
"failed" | "interrupted" | "drained", "namespace": [...], "graph_name"?,
"trigger_call_id"?, "cause"?, "error"?}`` and langgraph-api forwards those payloads. The
server does the same with LangGraph's own transformer: it asks the graph for the modes the
transformer declares (``tasks``) and for subgraphs, feeds it the parts as protocol events
the way ``stream_events(version="v3")`` feeds it (``streamtap.graph._stream_v3``), and
sends what it emits as ``lifecycle`` events. The modes and namespaces only the transformer
needed never reach the client. Needs the ``langgraph`` package (>= 1.2) on the server.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.stream._mux import StreamMux

__all__ = ["MODE", "available", "with_lifecycle"]

MODE = "lifecycle"

#: ``(modes, subgraphs=...)`` -> the graph's stream items, as ``_runner._items`` yields them
OpenStream = Callable[..., AsyncGenerator[Any, None]]


@functools.cache
def available() -> bool:
    """Whether LangGraph's stream transformers can be imported (the mode needs them)."""
    try:
        import langgraph.stream  # noqa: F401
    except ImportError:
        return False
    return True


async def with_lifecycle(
    open_stream: OpenStream, modes: Sequence[str], *, subgraphs: bool
) -> AsyncGenerator[Any, None]:
    """The items of ``open_stream(modes, subgraphs=...)`` the client asked for (``modes``,
    its subgraphs' items when ``subgraphs``), with ``lifecycle`` items among them.

    Items come out shaped as the client's ``subgraphs`` has them (``(ns, mode, payload)``
    or ``(mode, payload)``); ``astream_events`` events (dicts) pass unchanged. A lifecycle
    item comes before the part that caused it, as in LangGraph's event log, and always at
    the root namespace (LangGraph's mux forwards the transformer's channel there).
    """
    from langgraph.stream import LifecycleTransformer
    from langgraph.stream._convert import convert_to_protocol_event
    from langgraph.stream._mux import StreamMux

    from streamtap.graph._stream_v3 import _as_langgraphs, _modes

    mux = StreamMux(factories=[LifecycleTransformer], is_async=False)
    feeds = frozenset(_modes(mux))
    wanted = frozenset(modes)
    emitted = _emitted(mux)
    stream = open_stream([*modes, *sorted(feeds - wanted)], subgraphs=True)
    async with aclosing(stream):
        try:
            async for item in stream:
                if isinstance(item, dict):  # an ``events`` mode event
                    yield item
                    continue
                ns, mode, payload = item
                if mode in feeds:
                    mux.push(convert_to_protocol_event({"type": mode, "ns": ns, "data": payload}))
                    for lifecycle in _drain(emitted):
                        yield ((), MODE, lifecycle) if subgraphs else (MODE, lifecycle)
                if mode in wanted and (subgraphs or not ns):
                    yield item if subgraphs else (mode, payload)
        except Exception as exc:
            _as_langgraphs(exc)  # an interrupt or drain ends open subgraphs as LangGraph's
            mux.fail(exc)
            for lifecycle in _drain(emitted):
                yield ((), MODE, lifecycle) if subgraphs else (MODE, lifecycle)
            raise
        mux.close()
        for lifecycle in _drain(emitted):
            yield ((), MODE, lifecycle) if subgraphs else (MODE, lifecycle)


def _emitted(mux: StreamMux) -> list[Any]:
    """Where the transformer's ``lifecycle`` channel puts its payloads.

    A ``StreamChannel`` is read by a cursor that a run stream pumps; here the parts are
    pushed in, so the channel's forwarding hook (the one the mux sets to put its payloads
    in the run's event log) collects them instead.
    """
    out: list[Any] = []
    mux.extensions[MODE]._wire(out.append)
    return out


def _drain(emitted: list[Any]) -> Iterator[Any]:
    while emitted:
        yield emitted.pop(0)
