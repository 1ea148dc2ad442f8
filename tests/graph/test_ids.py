"""Checkpoint ids: LangGraph's uuid6, made faster, on the same clock."""

from __future__ import annotations

import uuid

from langgraph.checkpoint.base.id import uuid6

from streamtap.graph._algo import uuid6_str


def test_same_shape_as_langgraphs_and_ordered_with_it() -> None:
    ids: list[str] = []
    for step in (-2, -1, 0, 1, 5, 17000):
        ids += [uuid6_str(step), str(uuid6(clock_seq=step))]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for text in ids[::2]:
        parsed = uuid.UUID(text)
        assert parsed.version == 6 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    assert (uuid.UUID(ids[8]).int >> 48) & 0x3FFF == 5  # the clock_seq is the step
    assert (uuid.UUID(ids[0]).int >> 48) & 0x3FFF == (-2) & 0x3FFF
