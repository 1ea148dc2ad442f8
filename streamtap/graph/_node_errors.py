"""What the node policies raise or hand over (LangGraph's classes, same fields and messages).

Re-exported by ``streamtap.graph.errors``; kept apart so the policies import no errors
module that imports them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["NodeCancelledError", "NodeError", "NodeTimeoutError"]

#: where an error handler's task config carries its NodeError (LangGraph's key)
KEY_NODE_ERROR = "__pregel_node_error"


@dataclass(frozen=True, slots=True)
class NodeError:
    """What an error handler (``add_node(..., error_handler=h)``) is told: which node
    failed and how. A handler receives it through a parameter annotated ``NodeError``."""

    node: str
    error: BaseException


class NodeCancelledError(Exception):
    """A node raised ``asyncio.CancelledError`` itself: a failure of the node, not the
    run being torn down, so the run fails instead of ending as if it succeeded."""

    node: str

    def __init__(self, node: str, message: str | None = None) -> None:
        super().__init__(message or f"Node {node!r} raised asyncio.CancelledError")
        self.node = node


class NodeTimeoutError(Exception):
    """An attempt of a node exceeded its ``TimeoutPolicy``.

    Not a ``TimeoutError`` (an ``OSError``), so that the default ``RetryPolicy`` retries
    it. ``kind`` and ``timeout`` say which limit fired; both configured limits are kept.
    """

    node: str
    timeout: float
    run_timeout: float | None
    idle_timeout: float | None
    elapsed: float
    kind: Literal["idle", "run"]

    def __init__(
        self,
        node: str,
        elapsed: float,
        *,
        kind: Literal["idle", "run"],
        idle_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> None:
        if kind == "idle":
            if idle_timeout is None:
                raise ValueError("idle_timeout is required when kind='idle'")
            message = (
                f"Node '{node}' exceeded its idle timeout of {idle_timeout:.3f}s without "
                f"making progress (elapsed: {elapsed:.3f}s)."
            )
            self.timeout = idle_timeout
        elif kind == "run":
            if run_timeout is None:
                raise ValueError("run_timeout is required when kind='run'")
            message = (
                f"Node '{node}' exceeded its run timeout of {run_timeout:.3f}s "
                f"(elapsed: {elapsed:.3f}s)."
            )
            self.timeout = run_timeout
        else:
            raise ValueError("kind must be 'idle' or 'run'")
        super().__init__(message)
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout
