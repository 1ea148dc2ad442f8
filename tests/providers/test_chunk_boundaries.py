"""Splitting a fixture's bytes anywhere (1-byte pieces included) yields identical chunks."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamtap.errors import StreamInterrupted
from tests import _fixtures as F
from tests.providers.conftest import make_model, sse_cases


class _CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, body: bytes, cuts: list[int], reset_after: int | None) -> None:
        self.body = body[:reset_after] if reset_after is not None else body
        self.cuts = sorted({c for c in cuts if 0 < c < len(self.body)})
        self.reset = reset_after is not None

    def _pieces(self) -> Iterator[bytes]:
        start = 0
        for cut in [*self.cuts, len(self.body)]:
            yield self.body[start:cut]
            start = cut
        if self.reset:
            raise httpx.RemoteProtocolError("peer closed connection")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            yield piece


def _run(wire: str, scenario: str, cuts: list[int]) -> list[dict]:
    fixture = F.load(wire, scenario)
    assert fixture.body is not None

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=_CutStream(fixture.body, cuts, fixture.reset_after),
        )

    out: list[dict] = []
    with respx.mock() as router:
        router.post(F.URLS[wire]).mock(side_effect=respond)
        try:
            for chunk in make_model(wire).stream("hi"):
                out.append(chunk.model_dump())
        except StreamInterrupted as exc:
            partial = exc.partial.model_dump() if exc.partial else None
            out.append({"interrupted": partial})
    return out


CASES = sse_cases()


@functools.cache
def _baseline(wire: str, scenario: str) -> list[dict]:
    return _run(wire, scenario, [])


@pytest.mark.parametrize(("wire", "scenario"), CASES)
def test_one_byte_pieces(wire: str, scenario: str) -> None:
    fixture = F.load(wire, scenario)
    assert fixture.body is not None
    every_byte = list(range(1, len(fixture.body)))
    assert _run(wire, scenario, every_byte) == _baseline(wire, scenario)


@pytest.mark.parametrize(("wire", "scenario"), CASES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_boundaries(wire: str, scenario: str, data: st.DataObject) -> None:
    fixture = F.load(wire, scenario)
    assert fixture.body is not None
    cuts = data.draw(st.lists(st.integers(1, max(1, len(fixture.body) - 1)), max_size=40))
    assert _run(wire, scenario, cuts) == _baseline(wire, scenario)
