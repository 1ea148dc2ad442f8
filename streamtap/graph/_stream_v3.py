"""``stream_events(version="v3")``: LangGraph's run stream, fed by streamtap's v2 parts.

LangGraph builds a v3 run from its public ``stream(..., version="v2", subgraphs=True)``
parts alone: a ``StreamMux`` of transformers (values, messages, lifecycle, subgraphs,
plus the graph's and the caller's) turns each part into protocol events and
projections, and ``GraphRunStream`` pulls the parts as its consumers read. So the run
stream here is LangGraph's own (``langgraph.stream``), driving this graph's
``stream()``; what streamtap supplies is the parts, and the v2 ``messages`` handler
(``_stream_handlers``) that makes chat models emit protocol events. Projections,
ordering, errors and abort are then LangGraph's by construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.runnables import RunnableConfig

from streamtap.graph._config import ensure_config
from streamtap.graph._constants import CONF, NS_SEP
from streamtap.graph._stream_handlers import KEY_STREAM_MESSAGES_V2
from streamtap.graph.errors import GraphDrained, GraphInterrupt

if TYPE_CHECKING:
    from langgraph.stream import AsyncGraphRunStream, GraphRunStream
    from langgraph.stream._mux import StreamMux

__all__ = ["StreamEventsV3"]

TransformerFactory = Callable[[tuple[str, ...]], Any]

# What v3 owns: stream_mode is the transformers' union, subgraphs is always on.
_INVARIANT_KWARGS = ("stream_mode", "subgraphs")


class StreamEventsV3:
    """Mixed into ``CompiledStateGraph`` ahead of ``Runnable``, whose v1/v2 it keeps."""

    #: ``compile(transformers=...)``: transformer factories every v3 run of the graph gets
    stream_transformers: tuple[TransformerFactory, ...] = ()

    if TYPE_CHECKING:
        config: RunnableConfig | None

        def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Any: ...
        def astream(self, input: Any, config: Any = None, **kwargs: Any) -> Any: ...

    def stream_events(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2", "v3"] = "v2",
        transformers: Sequence[TransformerFactory] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``version="v3"``: a ``GraphRunStream`` whose consumers drive the run as they read."""
        if version != "v3":
            return super().stream_events(input, config, version=version, **kwargs)  # type: ignore[misc]
        _reject_invariant_kwargs(kwargs)
        return self._stream_v3(input, config, transformers=transformers, **kwargs)

    def astream_events(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2", "v3"] = "v2",
        transformers: Sequence[TransformerFactory] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``version="v3"``: an awaitable of an ``AsyncGraphRunStream``; else Runnable's."""
        if version != "v3":
            return super().astream_events(input, config, version=version, **kwargs)  # type: ignore[misc]
        _reject_invariant_kwargs(kwargs)
        return self._astream_v3(input, config, transformers=transformers, **kwargs)

    def _mux(
        self,
        config: RunnableConfig | None,
        transformers: Sequence[TransformerFactory] | None,
        *,
        is_async: bool,
    ) -> StreamMux:
        from langgraph.stream import LifecycleTransformer, SubgraphTransformer
        from langgraph.stream._mux import StreamMux
        from langgraph.stream.transformers import MessagesTransformer, ValuesTransformer

        return StreamMux(
            factories=[
                ValuesTransformer,
                MessagesTransformer,
                LifecycleTransformer,
                SubgraphTransformer,
                *_factories(self.stream_transformers),
                *_factories(transformers),
            ],
            scope=self._parent_ns(config),
            is_async=is_async,
        )

    def _parent_ns(self, config: RunnableConfig | None) -> tuple[str, ...]:
        """The namespace the run is called under: a node's, when a node streams a graph.

        The native projections keep only events of the run's own level, so a v3 stream
        opened inside a node must know where that level is.
        """
        ns = ensure_config(self.config, config)[CONF].get("checkpoint_ns")
        return tuple(ns.split(NS_SEP)) if ns else ()

    def _stream_v3(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        control: Any = None,
        transformers: Sequence[TransformerFactory] | None = None,
        **kwargs: Any,
    ) -> GraphRunStream:
        from langgraph.stream import GraphRunStream

        mux = self._mux(config, transformers, is_async=False)
        parts = iter(
            self.stream(
                input,
                _flagged(config),
                stream_mode=_modes(mux),
                subgraphs=True,
                version="v2",
                interrupt_before=interrupt_before,
                interrupt_after=interrupt_after,
                control=control,
                **kwargs,
            )
        )
        return GraphRunStream(_Parts(parts), mux)

    async def _astream_v3(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        control: Any = None,
        transformers: Sequence[TransformerFactory] | None = None,
        **kwargs: Any,
    ) -> AsyncGraphRunStream:
        from langgraph.stream import AsyncGraphRunStream

        mux = self._mux(config, transformers, is_async=True)
        parts = self.astream(
            input,
            _flagged(config),
            stream_mode=_modes(mux),
            subgraphs=True,
            version="v2",
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            control=control,
            **kwargs,
        ).__aiter__()
        return AsyncGraphRunStream(_AsyncParts(parts), mux)


class _Parts:
    """The run's parts; a drain or interrupt leaving it is also LangGraph's class.

    LangGraph's transformers tell a drained or interrupted run from a failed one by
    LangGraph's exception classes (open subgraph handles end ``drained`` /
    ``interrupted``, not ``failed``). The error keeps its identity and streamtap class,
    so a caller (or a parent graph) catching streamtap's still catches it.
    """

    def __init__(self, parts: Iterator[Any]) -> None:
        self._parts = parts

    def __iter__(self) -> _Parts:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._parts)
        except Exception as exc:
            _as_langgraphs(exc)
            raise

    def close(self) -> None:
        close = getattr(self._parts, "close", None)
        if close is not None:
            close()


class _AsyncParts:
    """:class:`_Parts` of an async run.

    LangGraph's run stream pulls each part in a task of its own. When its consumer is
    cancelled, it cancels that pull and moves on without waiting for it, and its
    ``abort()`` then closes this iterator: closed while the cancelled pull still runs,
    the graph's generator would refuse ("already running") and stay suspended, its nodes
    and their model streams open, until the garbage collector. So ``aclose`` lets an
    unfinished pull settle first."""

    def __init__(self, parts: AsyncIterator[Any]) -> None:
        self._parts = parts
        self._pulling: asyncio.Task[Any] | None = None

    def __aiter__(self) -> _AsyncParts:
        return self

    async def __anext__(self) -> Any:
        self._pulling = asyncio.current_task()
        try:
            return await self._parts.__anext__()
        except Exception as exc:
            _as_langgraphs(exc)
            raise
        finally:
            self._pulling = None

    async def aclose(self) -> None:
        pulling = self._pulling
        if pulling is not None and pulling is not asyncio.current_task() and not pulling.done():
            pulling.cancel()
            await asyncio.wait({pulling})
        aclose = getattr(self._parts, "aclose", None)
        if aclose is not None:
            await aclose()


_DUAL: dict[type[BaseException], type[BaseException]] = {}


def _as_langgraphs(exc: BaseException) -> None:
    """Make a streamtap ``GraphDrained`` / ``GraphInterrupt`` also LangGraph's, in place."""
    from langgraph import errors as lg

    pairs: tuple[tuple[type[BaseException], type[BaseException]], ...] = (
        (GraphDrained, lg.GraphDrained),
        (GraphInterrupt, lg.GraphInterrupt),
    )
    for ours, theirs in pairs:
        if isinstance(exc, ours) and not isinstance(exc, theirs):
            cls: type[BaseException] = type(exc)
            if cls not in _DUAL:
                attrs = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
                _DUAL[cls] = type(cls.__name__, (cls, theirs), attrs)
            exc.__class__ = _DUAL[cls]
            return


def _reject_invariant_kwargs(kwargs: dict[str, Any]) -> None:
    collisions = [k for k in _INVARIANT_KWARGS if k in kwargs]
    if collisions:
        raise TypeError(
            "stream_events(version='v3') / astream_events(version='v3') do "
            f"not accept {', '.join(collisions)}; v3 owns these "
            "(stream_mode is built from the transformer mux, subgraphs is "
            "forced True so nested namespaces flow through scoped muxes)."
        )


def _modes(mux: StreamMux) -> list[str]:
    """The stream modes the transformers declare they need: no more are streamed."""
    modes: set[str] = set()
    for transformer in mux._transformers:
        modes.update(getattr(transformer, "required_stream_modes", ()))
    return list(modes)


def _factories(specs: Sequence[TransformerFactory] | None) -> list[TransformerFactory]:
    """Scope-aware factories; an instance is refused, as it cannot be cloned per subgraph."""
    from langgraph.stream import StreamTransformer

    factories: list[TransformerFactory] = []
    for spec in specs or ():
        if isinstance(spec, StreamTransformer):
            raise TypeError(
                "stream_events(version='v3') transformers must be scope-aware callables, "
                f"got pre-built instance {type(spec).__name__}. Pass the "
                "transformer class or a factory like "
                "`lambda scope: MyTransformer(scope, ...)`."
            )
        if not callable(spec):
            raise TypeError(
                "stream_events(version='v3') transformers must be scope-aware callables, "
                f"got {type(spec).__name__}."
            )
        factories.append(spec)
    return factories


def _flagged(config: RunnableConfig | None) -> RunnableConfig:
    """``config`` asking this run's ``messages`` mode for protocol events."""
    flagged = cast(RunnableConfig, dict(config or {}))
    flagged[CONF] = {**(flagged.get(CONF) or {}), KEY_STREAM_MESSAGES_V2: True}  # type: ignore[literal-required]
    return flagged
