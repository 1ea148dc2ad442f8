"""The public face of a graph's output: stream parts as LangGraph yields them, and invoke's result.

Inside, every part is ``(namespace, mode, payload)``; here it gets its public
shape exactly once (bare payload, ``(mode, payload)``, ``(ns, ...)`` or a v2
dict), and ``invoke()`` folds a stream into its return value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Literal

from streamtap.graph._constants import INTERRUPT, START
from streamtap.graph._runtime import StreamPart
from streamtap.graph.types import GraphOutput, Interrupt

STREAM_MODES = frozenset(
    ("values", "updates", "messages", "custom", "debug", "tasks", "checkpoints", "tools")
)
StreamMode = Literal["values", "updates", "messages", "custom", "debug", "tasks", "checkpoints"]


def modes_of(stream_mode: str | Sequence[str]) -> frozenset[str]:
    modes = frozenset([stream_mode]) if isinstance(stream_mode, str) else frozenset(stream_mode)
    unknown = modes - STREAM_MODES
    if unknown:
        raise ValueError(
            f"Unknown stream_mode {sorted(unknown)}; choose from {sorted(STREAM_MODES)}"
        )
    if not modes:
        raise ValueError("stream_mode is empty: pass a mode or a list of modes")
    return modes


def shaper(
    stream_mode: str | Sequence[str],
    subgraphs: bool,
    version: str,
    output_mapper: Callable[[dict[str, Any]], Any] | None,
    state_mapper: Callable[[dict[str, Any]], Any] | None,
) -> Callable[[StreamPart], Any]:
    """The public shape of a part: bare payload, (mode, payload), (ns, ...) or a v2 dict."""
    if version == "v2":

        def shape_v2(part: StreamPart) -> dict[str, Any]:
            ns, mode, payload = part
            if mode == "values":
                ints: tuple[Interrupt, ...] = ()
                if isinstance(payload, dict):
                    if INTERRUPT in payload:
                        payload = dict(payload)
                        ints = payload.pop(INTERRUPT)
                    if output_mapper is not None:
                        payload = output_mapper(payload)
                return {"type": mode, "ns": ns, "data": payload, "interrupts": ints}
            if mode in ("checkpoints", "debug") and state_mapper is not None:
                _coerce_checkpoint_values(payload, state_mapper)
            return {"type": mode, "ns": ns, "data": payload}

        return shape_v2
    if version != "v1":
        raise ValueError(f'version must be "v1" or "v2", got {version!r}')
    if isinstance(stream_mode, list):
        if subgraphs:
            return lambda part: part
        return lambda part: (part[1], part[2])
    if subgraphs:
        return lambda part: (part[0], part[2])
    return itemgetter(2)


def _coerce_checkpoint_values(payload: Any, mapper: Callable[[dict[str, Any]], Any]) -> None:
    target = payload.get("payload") if payload.get("type") == "checkpoint" else payload
    if (
        isinstance(target, dict)
        and isinstance(target.get("values"), dict)
        and START not in target.get("next", ())
    ):
        target["values"] = mapper(target["values"])


class InvokeResult:
    """What ``invoke()`` keeps of the stream it runs, and what it returns from it.

    For ``stream_mode="values"`` the latest values plus any interrupts (v1: a dict
    with ``__interrupt__``; v2: a ``GraphOutput``); for another mode, every chunk.
    """

    __slots__ = ("chunks", "interrupts", "latest", "modes", "stream_mode", "version")

    def __init__(self, stream_mode: str, version: str) -> None:
        self.stream_mode = stream_mode
        self.version = version
        self.latest: Any = None
        self.chunks: list[Any] = []
        self.interrupts: list[Interrupt] = []
        # the modes to stream: v1 values also need updates, which carry the interrupts
        self.modes: Any = stream_mode
        if stream_mode == "values":
            self.modes = "values" if version == "v2" else ["updates", "values"]

    def add(self, chunk: Any) -> None:
        if self.stream_mode != "values":
            self.chunks.append(chunk)
            return
        if self.version == "v2":
            self.interrupts.extend(chunk.get("interrupts", ()))
            self.latest = chunk["data"]
            return
        mode, payload = chunk[-2], chunk[-1]
        if mode == "updates" and isinstance(payload, dict) and INTERRUPT in payload:
            self.interrupts.extend(payload[INTERRUPT])
        elif mode == "values":
            self.latest = payload

    def value(self) -> Any:
        if self.stream_mode != "values":
            return self.chunks
        latest, interrupts = self.latest, self.interrupts
        if self.version == "v2":
            return GraphOutput(value=latest, interrupts=tuple(interrupts))
        if interrupts:
            return (
                {**latest, INTERRUPT: interrupts}
                if isinstance(latest, dict)
                else {INTERRUPT: interrupts}
            )
        return latest
