"""``langgraph.constants``: START / END and the tags, plus LangGraph's deprecated imports.

``from streamtap.graph.constants import Send`` (or ``Interrupt``) still works and warns, as
LangGraph's does since 1.0; so do its now-private key names (``PREVIOUS``, ``RESUME``, ...),
whose values are LangGraph's.
"""

from __future__ import annotations

from typing import Any, Final

from streamtap.graph._constants import CONF, END, START, TAG_HIDDEN, TAG_NOSTREAM, TASKS
from streamtap.graph._deprecations import warn_deprecated

__all__ = (
    "CONF",
    "CONFIG_KEY_CHECKPOINTER",
    "END",
    "START",
    "TAG_HIDDEN",
    "TAG_NOSTREAM",
    "TASKS",
)

#: kept public by LangGraph for backwards compatibility (langgraph-api)
CONFIG_KEY_CHECKPOINTER: Final = "__pregel_checkpointer"

#: LangGraph's private constants still importable from ``langgraph.constants`` (with a warning)
_PRIVATE: Final[dict[str, str]] = {
    "INPUT": "__input__",
    "INTERRUPT": "__interrupt__",
    "RESUME": "__resume__",
    "ERROR": "__error__",
    "NO_WRITES": "__no_writes__",
    "RETURN": "__return__",
    "PREVIOUS": "__previous__",
    "PUSH": "__pregel_push",
    "PULL": "__pregel_pull",
    "NS_SEP": "|",
    "NS_END": ":",
    "NULL_TASK_ID": "00000000-0000-0000-0000-000000000000",
    "CONFIG_KEY_SEND": "__pregel_send",
    "CONFIG_KEY_READ": "__pregel_read",
    "CONFIG_KEY_CHECKPOINT_ID": "checkpoint_id",
    "CONFIG_KEY_CHECKPOINT_NS": "checkpoint_ns",
    "CONFIG_KEY_CHECKPOINT_MAP": "checkpoint_map",
    "CONFIG_KEY_THREAD_ID": "thread_id",
    "CONFIG_KEY_TASK_ID": "__pregel_task_id",
    "CONFIG_KEY_SCRATCHPAD": "__pregel_scratchpad",
    "CONFIG_KEY_STREAM": "__pregel_stream",
    "CONFIG_KEY_RESUMING": "__pregel_resuming",
    "CONFIG_KEY_DURABILITY": "__pregel_durability",
    "CONFIG_KEY_RUNTIME": "__pregel_runtime",
}


def __getattr__(name: str) -> Any:
    if name in ("Send", "Interrupt"):
        warn_deprecated(
            f"Importing {name} from langgraph.constants is deprecated. "
            f"Please use 'from langgraph.types import {name}' instead.",
            "1.0",
        )
        from streamtap.graph import types

        return getattr(types, name)
    if name in _PRIVATE:
        warn_deprecated(
            f"Importing {name} from langgraph.constants is deprecated. "
            "This constant is now private and should not be used directly. "
            "Please let the LangGraph team know if you need this value.",
            "1.0",
        )
        return _PRIVATE[name]
    raise AttributeError(f"module has no attribute '{name}'")
