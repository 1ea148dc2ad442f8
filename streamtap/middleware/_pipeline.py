"""Running stages over a source: a model's chunks, or a graph's stream output.

The pipeline feeds each message through the stages in order; ``transform_items``
unwraps each item of the source (a chunk, or a ``stream_mode`` item carrying a
message and its metadata), pushes the message and rewraps what comes out, so
metadata and namespaces travel untouched. An async source with a time bound
is read in a task so the timer can fire while the source is silent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from typing import Any, Final

from langchain_core.messages import BaseMessage

from streamtap.middleware._stages import Item, _Stage


class Pipeline:
    """Stages in order: each stage's output is the next one's input."""

    __slots__ = ("_clock", "_stages", "timed")

    def __init__(self, stages: Sequence[_Stage], clock: Callable[[], float], timed: bool) -> None:
        self._stages = stages
        self._clock = clock
        self.timed = timed

    def push(self, message: BaseMessage, carrier: Any) -> list[Item]:
        items: list[Item] = [(message, carrier)]
        for stage in self._stages:
            if len(items) == 1:
                items = stage.push(*items[0])
            else:
                items = [out for item in items for out in stage.push(*item)]
            if not items:
                break
        return items

    def _cascade(self, release: Callable[[_Stage], list[Item]]) -> list[Item]:
        items: list[Item] = []
        for stage in self._stages:
            items = [out for item in items for out in stage.push(*item)]
            items.extend(release(stage))
        return items

    def close(self) -> list[Item]:
        return self._cascade(lambda stage: stage.flush())

    def tick(self) -> list[Item]:
        now = self._clock()
        return self._cascade(lambda stage: stage.tick(now))

    def deadline(self) -> float | None:
        deadlines = [d for s in self._stages if (d := s.deadline()) is not None]
        return min(deadlines) if deadlines else None

    def remaining(self) -> float | None:
        deadline = self.deadline()
        return None if deadline is None else max(0.0, deadline - self._clock())


# --------------------------------------------------------------------------- item shapes


def unwrap_output(item: Any) -> Item | None:
    """The message inside one ``stream(..., stream_mode=...)`` item, or None if it has none."""
    if type(item) is tuple:
        if len(item) == 2:
            first, second = item
            if isinstance(first, BaseMessage):
                return first, (0, None, second)
            if (
                type(second) is tuple
                and len(second) == 2
                and isinstance(second[0], BaseMessage)
                and (first == "messages" or type(first) is tuple)
            ):
                return second[0], (1, first, second[1])
        elif len(item) == 3 and item[1] == "messages":
            data = item[2]
            if type(data) is tuple and len(data) == 2 and isinstance(data[0], BaseMessage):
                return data[0], (2, item[0], data[1])
    elif isinstance(item, dict) and item.get("type") == "messages":
        data = item.get("data")
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], BaseMessage):
            return data[0], (3, item, data[1])
    elif isinstance(item, BaseMessage):
        return item, (4, None, None)
    return None


def rewrap_output(message: BaseMessage, carrier: Any) -> Any:
    shape, outer, metadata = carrier
    if shape == 0:
        return (message, metadata)
    if shape == 1:
        return (outer, (message, metadata))
    if shape == 2:
        return (outer, "messages", (message, metadata))
    if shape == 3:
        return {**outer, "data": (message, metadata)}
    return message


def unwrap_chunk(item: Any) -> Item:
    if not isinstance(item, BaseMessage):
        raise TypeError(
            f"Transform.stream() takes message chunks, got {type(item).__name__}; "
            "use Transform.messages() for a graph's stream output"
        )
    return item, None


def rewrap_chunk(message: BaseMessage, carrier: Any) -> Any:
    return message


# --------------------------------------------------------------------------- over a source


def transform_items(
    pipeline: Pipeline,
    source: Iterable[Any],
    unwrap: Callable[[Any], Item | None],
    rewrap: Callable[[BaseMessage, Any], Any],
) -> Iterator[Any]:
    iterator = iter(source)
    try:
        try:
            for item in iterator:
                unwrapped = unwrap(item)
                if unwrapped is None:
                    if pipeline.timed:
                        for out in pipeline.tick():
                            yield rewrap(*out)
                    yield item
                    continue
                for out in pipeline.push(*unwrapped):
                    yield rewrap(*out)
        except Exception:
            for out in pipeline.close():
                yield rewrap(*out)
            raise
        for out in pipeline.close():
            yield rewrap(*out)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


_DONE: Final = object()


async def _pump(source: AsyncIterator[Any], queue: asyncio.Queue[tuple[bool, Any]]) -> None:
    try:
        async for item in source:
            await queue.put((True, item))
    except Exception as exc:
        await queue.put((False, exc))
        return
    await queue.put((True, _DONE))


async def atransform_items(
    pipeline: Pipeline,
    source: AsyncIterable[Any] | Iterable[Any],
    unwrap: Callable[[Any], Item | None],
    rewrap: Callable[[BaseMessage, Any], Any],
) -> AsyncIterator[Any]:
    if not isinstance(source, AsyncIterable):
        for item in transform_items(pipeline, source, unwrap, rewrap):
            yield item
        return
    iterator = aiter(source)
    if not pipeline.timed:
        try:
            try:
                async for item in iterator:
                    unwrapped = unwrap(item)
                    if unwrapped is None:
                        yield item
                        continue
                    for out in pipeline.push(*unwrapped):
                        yield rewrap(*out)
            except Exception:
                for out in pipeline.close():
                    yield rewrap(*out)
                raise
            for out in pipeline.close():
                yield rewrap(*out)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        return
    # A time bound needs a timer while the source is silent: read the source in
    # a task (the same context) and wait on its hand-off queue with a timeout;
    # cancelling a queue read, unlike cancelling the source, loses nothing.
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=1)
    pump = asyncio.get_running_loop().create_task(_pump(iterator, queue))
    try:
        while True:
            remaining = pipeline.remaining()
            if remaining is None:
                ok, item = await queue.get()
            else:
                try:
                    async with asyncio.timeout(remaining):
                        ok, item = await queue.get()
                except TimeoutError:
                    for out in pipeline.tick():
                        yield rewrap(*out)
                    continue
            if not ok:
                for out in pipeline.close():
                    yield rewrap(*out)
                raise item
            if item is _DONE:
                break
            unwrapped = unwrap(item)
            if unwrapped is None:
                for out in pipeline.tick():
                    yield rewrap(*out)
                yield item
                continue
            for out in pipeline.push(*unwrapped):
                yield rewrap(*out)
        for out in pipeline.close():
            yield rewrap(*out)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


# --------------------------------------------------------------------------- public
