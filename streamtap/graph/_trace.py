"""A node's ``TracePolicy``: what tracers record of its run, as LangGraph processes it.

Only tracers (LangSmith's and other ``BaseTracer``\\ s) get the processed input and
output, to keep their ingest small; every other handler (``astream_events``, the
``messages`` stream, custom handlers) gets the node's real payloads, under the same run
id. A processor always runs, but never affects execution: if it raises, the real payload
is recorded (LangGraph's fail-open rule).
"""

from __future__ import annotations

import copy
import logging
from typing import Any, TypeVar

from langchain_core.tracers.base import BaseTracer

from streamtap._callbacks import achain_end, achain_start
from streamtap._compat import StreamingCallbackHandler

__all__ = ["aend_run", "astart_run", "end_run", "start_run"]

logger = logging.getLogger(__name__)

M = TypeVar("M")


def _recorded(value: Any, transform: Any) -> Any:
    if transform is None:
        return value
    try:
        return transform(value)
    except Exception:
        logger.exception("trace input/output processor raised; recording untransformed payload")
        return value


def _split(manager: M) -> tuple[M, M]:
    """(every handler but tracers, tracers); a streaming handler is not a tracer here."""
    real, tracers = copy.copy(manager), copy.copy(manager)
    handlers = manager.handlers  # type: ignore[attr-defined]
    tracers.handlers = [  # type: ignore[attr-defined]
        h
        for h in handlers
        if isinstance(h, BaseTracer) and StreamingCallbackHandler not in type(h).__mro__
    ]
    real.handlers = [h for h in handlers if h not in tracers.handlers]  # type: ignore[attr-defined]
    return real, tracers


def start_run(manager: Any, payload: Any, name: str, policy: Any) -> Any:
    recorded = _recorded(payload, getattr(policy, "process_inputs", None))
    if recorded is payload:
        return manager.on_chain_start(None, payload, name=name)
    real, tracers = _split(manager)
    run = real.on_chain_start(None, payload, name=name)
    tracers.on_chain_start(None, recorded, name=name, run_id=run.run_id)
    run.handlers = manager.handlers  # children are traced as usual
    return run


async def astart_run(manager: Any, payload: Any, name: str, policy: Any) -> Any:
    recorded = _recorded(payload, getattr(policy, "process_inputs", None))
    if recorded is payload:
        return await achain_start(manager, None, payload, name=name)
    real, tracers = _split(manager)
    run = await real.on_chain_start(None, payload, name=name)
    await tracers.on_chain_start(None, recorded, name=name, run_id=run.run_id)
    run.handlers = manager.handlers
    return run


def end_run(run: Any, output: Any, policy: Any) -> None:
    recorded = _recorded(output, getattr(policy, "process_outputs", None))
    if recorded is output:
        run.on_chain_end(output)
        return
    real, tracers = _split(run)
    tracers.on_chain_end(recorded)
    real.on_chain_end(output)


async def aend_run(run: Any, output: Any, policy: Any) -> None:
    recorded = _recorded(output, getattr(policy, "process_outputs", None))
    if recorded is output:
        await achain_end(run, output)
        return
    real, tracers = _split(run)
    await tracers.on_chain_end(recorded)  # tracers first: a cancel never leaves theirs open
    await real.on_chain_end(output)
