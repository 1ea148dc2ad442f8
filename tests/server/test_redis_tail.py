"""The one ``XREAD`` loop every reader of a process shares (``_redis_tail``): a reader
that arrives while a read is out, further back than that read, still gets every entry
from its own position, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from streamtap.server._redis_tail import RedisTail


def _entries(*ids: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return [(f"{i}-0".encode(), {b"e": b"messages", b"d": str(i).encode()}) for i in ids]


class _ScriptedRedis:
    """``xread`` answers from a script, one reply per call, each when the test releases it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.replies: asyncio.Queue[Any] = asyncio.Queue()

    async def xread(self, streams: dict[str, str], count: int, block: int) -> Any:
        self.calls.append(dict(streams))
        return await self.replies.get()

    async def xadd(self, key: str, fields: dict[str, bytes], **kw: Any) -> bytes:
        return b"1-0"

    async def delete(self, key: str) -> None:
        return None


async def test_a_reader_further_back_than_the_read_in_flight_misses_nothing() -> None:
    fake = _ScriptedRedis()
    tail = RedisTail(lambda: fake, "p:")
    ahead = await tail.subscribe("run", "5-0")
    await asyncio.sleep(0)  # the loop's first XREAD is out, from 5-0
    behind = await tail.subscribe("run", "0-0")
    await fake.replies.put([(b"run", _entries(6, 7))])
    await asyncio.sleep(0.01)
    assert fake.calls[0]["run"] == "5-0"
    assert [e[0] for e in await ahead.queue.get()] == [b"6-0", b"7-0"]
    assert behind.queue.empty()  # not from 6-0: it would have lost 1..5
    assert fake.calls[1]["run"] == "0-0"  # the next read starts where the reader is
    await fake.replies.put([(b"run", _entries(1, 2, 3, 4, 5, 6, 7))])
    await asyncio.sleep(0.01)
    assert [e[0] for e in await behind.queue.get()] == [f"{i}-0".encode() for i in range(1, 8)]
    assert ahead.queue.empty()  # nothing new for it
    tail.unsubscribe(ahead)
    tail.unsubscribe(behind)
    await fake.replies.put([])
    await tail.close()
