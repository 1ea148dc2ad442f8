"""What a step loop streams: each mode's payload, and the sinks it is put on.

The payloads are LangGraph's, key for key (``updates``, ``tasks``,
``checkpoints`` and their ``debug`` wrapping); the same task listing serves
``get_state().tasks``. Parts leave here as ``(namespace, mode, payload)``; their
public shape is given once, at the edge (``_io``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import PendingWrite

from streamtap.graph._algo import Task, writes_by_task
from streamtap.graph._constants import (
    BARE_CHANNELS,
    CONF,
    ERROR,
    EXCLUDED_METADATA_KEYS,
    INTERRUPT,
    MISSING,
    RETURN,
)
from streamtap.graph._runtime import Sink, StreamPart, noop_writer
from streamtap.graph._spec import GraphSpec
from streamtap.graph._writes import Write
from streamtap.graph.types import Interrupt, PregelTask


class Sinks:
    """A loop's consumer and, for a subgraph streamed with ``subgraphs=True``, its parents'."""

    __slots__ = ("modes", "ns", "sinks")

    def __init__(self, ns: tuple[str, ...], sinks: list[Sink]) -> None:
        self.ns = ns
        self.sinks = sinks
        self.modes: frozenset[str] = frozenset().union(*(m for _, m in sinks))

    def emit(self, mode: str, payload: Any) -> None:
        part = (self.ns, mode, payload)
        for put, modes in self.sinks:
            if mode in modes:
                put(part)

    def emit_debug(self, mode: str, payload: Any, step: int) -> None:
        """``checkpoints``/``tasks`` events, also wrapped for ``debug`` consumers."""
        wrapped: StreamPart | None = None
        for put, modes in self.sinks:
            if mode in modes:
                put((self.ns, mode, payload))
            if "debug" in modes:
                if wrapped is None:
                    kind = (
                        "checkpoint"
                        if mode == "checkpoints"
                        else "task_result"
                        if "result" in payload
                        else "task"
                    )
                    wrapped = (
                        self.ns,
                        "debug",
                        {
                            "step": step - 1 if mode == "checkpoints" else step,
                            "timestamp": datetime.now(UTC).isoformat(),
                            "type": kind,
                            "payload": payload,
                        },
                    )
                put(wrapped)

    def wants(self, mode: str) -> bool:
        return mode in self.modes or (mode in ("checkpoints", "tasks") and "debug" in self.modes)

    def task_writes(
        self,
        task: Task,
        writes: Sequence[Write],
        graph: GraphSpec,
        step: int,
        values: Callable[[], Any],
        output_keys: frozenset[str] | None = None,
        *,
        cached: bool = False,
    ) -> None:
        """Stream what a task wrote: its update (or its interrupts), its ``tasks`` result."""
        if task.hidden or not writes:
            return
        first = writes[0][0]
        if first == INTERRUPT:
            ints = interrupts_in(writes)
            if "updates" in self.modes:
                self.emit("updates", {INTERRUPT: ints})
            if "values" in self.modes:
                state = values()
                # a bare-value state streams the interrupts alone (LangGraph's)
                state = {**state, INTERRUPT: ints} if isinstance(state, dict) else {INTERRUPT: ints}
                self.emit("values", state)
        elif first != ERROR and "updates" in self.modes:
            keys = graph.output_key_set if output_keys is None else output_keys
            self.emit("updates", updates_payload(task, writes, keys, cached))
        if not cached and self.wants("tasks"):
            keys = frozenset(graph.stream_keys)
            self.emit_debug("tasks", task_result_payload(task, writes, keys), step)

    def custom_writer(self) -> Callable[[Any], None]:
        """The ``custom``-mode writer the loop's tasks get (a no-op if nobody asked)."""
        targets = [put for put, modes in self.sinks if "custom" in modes]
        if not targets:
            return noop_writer
        ns = self.ns
        if len(targets) == 1:
            put = targets[0]
            return lambda payload: put((ns, "custom", payload))

        def write(payload: Any) -> None:
            part = (ns, "custom", payload)
            for p in targets:
                p(part)

        return write


# ---------------------------------------------------------------------- payloads


def filter_user_tags(tags: Sequence[str] | None) -> list[str] | None:
    if not tags:
        return None
    kept = [t for t in tags if not t.startswith("seq:step")]
    return kept or None


def interrupts_in(writes: Sequence[Write]) -> tuple[Interrupt, ...]:
    return tuple(
        i for c, v in writes if c == INTERRUPT for i in (v if isinstance(v, Sequence) else (v,))
    )


def task_start_payload(task: Task) -> dict[str, Any]:
    """The ``tasks`` event of a task that starts."""
    payload: dict[str, Any] = {
        "id": task.id,
        "name": task.name,
        "input": task.input,
        "triggers": task.triggers,
    }
    md = {
        k: v
        for k, v in (task.config.get("metadata") or {}).items()
        if k not in EXCLUDED_METADATA_KEYS
    }
    if tags := filter_user_tags(task.config.get("tags")):
        md["tags"] = tags
    if md:
        payload["metadata"] = md
    return payload


def task_result_payload(
    task: Task, writes: Sequence[Write], keys: frozenset[str]
) -> dict[str, Any]:
    """The ``tasks`` event of a task that finished (or failed, or paused)."""
    return {
        "id": task.id,
        "name": task.name,
        "error": next((v for c, v in writes if c == ERROR), None),
        "result": fold_writes([(c, v) for c, v in writes if c in keys or c == RETURN]),
        "interrupts": [asdict(i) for i in interrupts_in(writes)],
    }


def updates_payload(
    task: Task, writes: Sequence[Write], keys: frozenset[str], cached: bool
) -> dict[str, Any]:
    """The ``updates`` event of a task: its output keys (a list if a key was written twice)."""
    mine = [(c, v) for c, v in writes if c in keys]
    value: Any
    if (returned := next((v for c, v in writes if c == RETURN), MISSING)) is not MISSING:
        value = returned  # a task call's result (LangGraph's)
    elif not mine:
        value = None
    elif len(keys) == 1 and keys <= BARE_CHANNELS:  # a bare-value state: the values themselves
        value = mine[0][1] if len(mine) == 1 else [v for _, v in mine]
    elif any(n > 1 for n in Counter(c for c, _ in mine).values()):
        value = [{c: v} for c, v in mine]
    else:
        value = dict(mine)
    out: dict[str, Any] = {task.name: value}
    if cached:
        out["__metadata__"] = {"cached": True}
    return out


def fold_writes(writes: Sequence[Write]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for chan, value in writes:
        if chan in result:
            existing = result[chan]
            if isinstance(existing, dict) and isinstance(existing.get("$writes"), list):
                existing["$writes"].append(value)
            else:
                result[chan] = {"$writes": [existing, value]}
        else:
            result[chan] = value
    return result


def task_states(
    graph: GraphSpec,
    tasks: Sequence[Task],
    pending_writes: Sequence[PendingWrite],
    ns_str: str,
    thread_id: Any,
    *,
    live: bool = False,
) -> list[PregelTask]:
    """Tasks of a step with what the pending writes say happened to each."""
    outputs, interrupts, errors = writes_by_task(pending_writes)
    out = []
    keys = frozenset(graph.stream_keys)
    for task in tasks:
        finished = bool(outputs.get(task.id))
        state = None
        if task.name in graph.nodes and graph.nodes[task.name].is_subgraph:
            state = {"configurable": {"thread_id": thread_id, "checkpoint_ns": task.ns}}
        mapped = [(c, v) for c, v in outputs.get(task.id, ()) if c in keys]
        result: Any = fold_writes(mapped) if mapped else {}
        if len(keys) == 1 and keys <= BARE_CHANNELS:  # a bare value: the value written
            result = result.get(next(iter(keys)))
        elif RETURN in (returned := dict(outputs.get(task.id, ()))):  # a task call's result
            result = returned[RETURN]
        ints = tuple(interrupts.get(task.id, ()))
        out.append(
            PregelTask(
                task.id,
                task.name,
                task.path,
                errors.get(task.id),
                () if (live and finished) else ints,
                state,  # type: ignore[arg-type]
                result if finished else None,
            )
        )
    return out


def checkpoint_task(t: PregelTask) -> dict[str, Any]:
    """A task as the ``checkpoints`` event lists it."""
    if t.error:
        return {"id": t.id, "name": t.name, "error": t.error, "state": t.state}
    ints = tuple(asdict(i) for i in t.interrupts)
    if t.result:
        return {
            "id": t.id,
            "name": t.name,
            "result": t.result,
            "interrupts": ints,
            "state": t.state,
        }
    return {"id": t.id, "name": t.name, "interrupts": ints, "state": t.state}


def public_config(
    config: RunnableConfig | None, parents: dict[str, str] | None, ns_str: str
) -> RunnableConfig | None:
    """A checkpoint's config as the ``checkpoints`` event shows it."""
    if config is None:
        return None
    conf = dict(config[CONF])
    out = {
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "thread_id": conf.get("thread_id"),
        "checkpoint_id": conf.get("checkpoint_id"),
    }
    if parents:
        out["checkpoint_map"] = {**parents, ns_str: conf.get("checkpoint_id")}
    return {"configurable": out}
