"""Which edges a drawing shows: LangGraph's dry run of the graph, step by step.

LangGraph does not draw its declared edges: it runs the graph on an empty
input, each node writing only what it always writes (its edges, its joins) and,
the first time it runs, every destination its routers and ``Command``
annotations declare. Who triggered whom in that run is the drawing, including
its oddities (implicit dashed edges from a whole step, a dashed edge to END
from the last lone node). This module replays that run over the trigger
channels alone (state channels never trigger a node), so the edges, their
labels and their dashes are LangGraph's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streamtap.graph._constants import END, INPUT, START

#: LangGraph's bound on the dry run's steps.
LIMIT = 250


class Edge(NamedTuple):
    """An edge found by the dry run (LangGraph's ``_draw.Edge``)."""

    source: str
    target: str
    conditional: bool
    data: str | None


class TriggerEdge(NamedTuple):
    source: str
    conditional: bool
    data: str | None


@dataclass(frozen=True)
class Wiring:
    """A graph as the dry run sees it: LangGraph's channel names and node writers.

    ``order`` starts with START. ``writes`` are the writes a node makes on every
    run (its edges and joins); ``statics`` the (channel or END, label) writes its
    routers and destinations declare, made on its first run only.
    """

    order: Sequence[str]
    triggers: Mapping[str, Sequence[str]]
    writes: Mapping[str, Sequence[tuple[str, Any]]]
    statics: Mapping[str, Sequence[tuple[str, str | None]]]
    barriers: Mapping[str, frozenset[str]]
    #: the channels of deferred nodes: what they hold shows only once a step triggers nothing
    after_finish: frozenset[str] = frozenset()


@dataclass
class Trace:
    """What the dry run found: its edges, the first step's nodes and the last step's."""

    edges: set[Edge]
    start_tasks: list[str]
    last_step: list[str]


@dataclass
class _Channels:
    """The trigger channels' state: ephemeral values and join barriers, with versions."""

    wiring: Wiring
    values: set[str] = field(default_factory=set)
    barrier_seen: dict[str, set[str]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)

    def names(self) -> list[str]:
        chans = [START, *(c for n in self.wiring.order for c in self.wiring.triggers[n])]
        return list(dict.fromkeys(chans))

    def _full(self, chan: str) -> bool:
        """Whether ``chan`` holds a value (a barrier: has seen all its names)."""
        names = self.wiring.barriers.get(chan)
        if names is None:
            return chan in self.values
        return self.barrier_seen.get(chan, set()) == names

    def available(self, chan: str) -> bool:
        after = chan in self.wiring.after_finish
        return self._full(chan) and (not after or chan in self.finished)

    def update(self, chan: str, values: Sequence[Any]) -> bool:
        names = self.wiring.barriers.get(chan)
        if names is None and chan in self.wiring.after_finish:  # LastValueAfterFinish
            if not values:
                return False
            self.finished.discard(chan)
            self.values.add(chan)
            return True
        if names is None:  # an ephemeral channel: holds the step's last write
            if not values:
                had = chan in self.values
                self.values.discard(chan)
                return had
            self.values.add(chan)
            return True
        seen = self.barrier_seen.setdefault(chan, set())
        before = len(seen)
        seen.update(v for v in values if v in names)
        return len(seen) != before

    def consume(self, chan: str) -> bool:
        if chan in self.wiring.after_finish:
            if chan not in self.finished or not self._full(chan):
                return False
            self.finished.discard(chan)
        elif chan not in self.wiring.barriers or not self._full(chan):
            return False
        self.values.discard(chan)
        self.barrier_seen[chan] = set()
        return True

    def finish(self, chan: str) -> bool:
        if chan in self.wiring.after_finish and chan not in self.finished and self._full(chan):
            self.finished.add(chan)
            return True
        return False

    def apply(
        self,
        tasks: Iterable[tuple[str, Sequence[str], Sequence[tuple[str, Any]]]],
        trigger_to_nodes: Mapping[str, list[str]],
    ) -> set[str]:
        """LangGraph's ``apply_writes``: the channels a step's writes made available."""
        tasks = list(tasks)
        bump_step = any(triggers for _, triggers, _ in tasks)
        for name, triggers, _ in tasks:
            self.seen.setdefault(name, {}).update(
                {c: self.versions[c] for c in triggers if c in self.versions}
            )
        next_version = max(self.versions.values(), default=0) + 1
        for chan in {c for _, triggers, _ in tasks for c in triggers}:
            if self.consume(chan):
                self.versions[chan] = next_version
        pending: dict[str, list[Any]] = defaultdict(list)
        for _, _, writes in tasks:
            for chan, value in writes:
                pending[chan].append(value)
        updated: set[str] = set()
        for chan, values in pending.items():
            if self.update(chan, values):
                self.versions[chan] = next_version
                if self.available(chan):
                    updated.add(chan)
        if bump_step:
            for chan in self.names():
                if self.available(chan) and chan not in updated and self.update(chan, ()):
                    self.versions[chan] = next_version
                    if self.available(chan):
                        updated.add(chan)
        if bump_step and updated.isdisjoint(trigger_to_nodes):  # (tentatively) the last step
            for chan in self.names():
                if self.finish(chan):
                    self.versions[chan] = next_version
                    if self.available(chan):
                        updated.add(chan)
        return updated

    def next_tasks(self, updated: set[str], trigger_to_nodes: Mapping[str, list[str]]) -> list[str]:
        """LangGraph's ``prepare_next_tasks``: the nodes the updated channels trigger."""
        candidates: Iterable[str]
        if updated:
            candidates = sorted({n for c in updated for n in trigger_to_nodes.get(c, ())})
        elif not self.versions:
            candidates = ()
        else:
            candidates = self.wiring.order
        return [n for n in candidates if self._triggered(n)]

    def _triggered(self, node: str) -> bool:
        seen = self.seen.get(node)
        for chan in self.wiring.triggers[node]:
            if self.available(chan) and (
                seen is None or self.versions.get(chan, 0) > seen.get(chan, 0)
            ):
                return True
        return False


def trace(wiring: Wiring, limit: int = LIMIT) -> Trace:
    """Run ``wiring`` dry, as LangGraph's ``draw_graph`` does, and collect its edges."""
    trigger_to_nodes: dict[str, list[str]] = {}
    for node in wiring.order:
        for chan in wiring.triggers[node]:
            trigger_to_nodes.setdefault(chan, []).append(node)
    chans = _Channels(wiring)
    edges: set[Edge] = set()
    sources: dict[str, set[TriggerEdge]] = {}
    step_sources: dict[str, set[TriggerEdge]] = {}
    declared: dict[str, set[TriggerEdge]] = defaultdict(set)
    statics_done: set[str] = set()
    updated = chans.apply([(INPUT, (), [(START, {})])], trigger_to_nodes)
    tasks = chans.next_tasks(updated, trigger_to_nodes)
    start_tasks = tasks
    for _ in range(-1, limit):
        if not tasks:
            break
        conditionals: dict[tuple[str, str, Any], str | None] = {}
        task_writes: dict[str, list[tuple[str, Any]]] = {}
        for name in tasks:
            writes = list(wiring.writes.get(name, ()))
            statics = wiring.statics.get(name, ())
            if statics and name not in statics_done:
                statics_done.add(name)
                for chan, label in statics:
                    if chan == END:
                        edges.add(Edge(name, END, True, label))
                kept = [(c, label) for c, label in statics if c != END]
                conditionals.update({(name, c, None): label for c, label in kept})
                declared[name].update(TriggerEdge(c, True, label) for c, label in kept)
                writes.extend((c, None) for c, _ in kept)
            task_writes[name] = writes
        step_sources = {}
        for name in tasks:
            found = {
                TriggerEdge(
                    c, (name, c, v or None) in conditionals, conditionals.get((name, c, v or None))
                )
                for c, v in task_writes[name]
            }
            step_sources[name] = found | declared.get(name, set())
        sources.update(step_sources)
        trigger_to_sources: dict[str, set[TriggerEdge]] = defaultdict(set)
        for src, triggers in sources.items():
            for trigger, cond, label in triggers:
                trigger_to_sources[trigger].add(TriggerEdge(src, cond, label))
        updated = chans.apply(
            ((n, wiring.triggers[n], task_writes[n]) for n in tasks), trigger_to_nodes
        )
        tasks = chans.next_tasks(updated, trigger_to_nodes)
        for name in tasks:
            added = False
            for trigger in wiring.triggers[name]:
                for src, cond, label in sorted(trigger_to_sources[trigger]):  # type: ignore[type-var]
                    edges.add(Edge(src, name, cond, label))
                    if (trigger, cond, label) in step_sources.get(src, set()):
                        added = True
                    else:
                        sources[src].discard(TriggerEdge(trigger, cond, label))
            if not added:
                for src in step_sources:
                    edges.add(Edge(src, name, True, None))
    return Trace(edges, start_tasks, list(step_sources))
