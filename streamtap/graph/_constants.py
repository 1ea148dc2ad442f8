"""Reserved names shared by the builder, the step loop and the checkpointers.

The values are LangGraph's, byte for byte: they appear in user-visible payloads
(`langgraph_triggers`, `langgraph_path`, `__interrupt__` keys) that ported UIs
match on.
"""

from __future__ import annotations

from typing import Any, Final

from streamtap._context import TASK_KEY


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: "no value": an empty channel, a field left unset (``None`` is a value)
MISSING: Any = _Missing()

START: Final = "__start__"
END: Final = "__end__"
INTERRUPT: Final = "__interrupt__"
#: the pseudo-task whose writes are a run's input or a Command's updates
INPUT: Final = "__input__"
TAG_NOSTREAM: Final = "nostream"
TAG_HIDDEN: Final = "langsmith:hidden"

PULL: Final = "__pregel_pull"
PUSH: Final = "__pregel_push"
NULL_TASK_ID: Final = "00000000-0000-0000-0000-000000000000"
NS_SEP: Final = "|"
NS_END: Final = ":"

# Pseudo-channels written by tasks; they never hold state.
TASKS: Final = "__pregel_tasks"
RESUME: Final = "__resume__"
ERROR: Final = "__error__"
# Beside a failed task's error: the node whose error handler took it over (LangGraph's).
ERROR_SOURCE_NODE: Final = "__error_source_node__"
NO_WRITES: Final = "__no_writes__"
# A Command's update that is neither a dict, (key, value) pairs nor fields (LangGraph's name).
ROOT: Final = "__root__"
# The functional API's channels (LangGraph's names): what a task call returned (a pending
# write of the task), and what an entrypoint saved for its next run on the thread.
RETURN: Final = "__return__"
PREVIOUS: Final = "__previous__"
#: channels read and written as one bare value, not as a dict of keys: a root-channel
#: state's, an entrypoint's input (``__start__``) and output (``__end__``)
BARE_CHANNELS: Final = frozenset((ROOT, START, END))
CONTROL_WRITES: Final = frozenset((ERROR, ERROR_SOURCE_NODE, INTERRUPT, RESUME))
# A task keeps one slot per control channel: a newer write replaces the older.
WRITES_IDX_MAP: Final = {ERROR: -1, INTERRUPT: -3, RESUME: -4}

BRANCH_PREFIX: Final = "branch:to:"

# configurable keys
CONF: Final = "configurable"
# the running task's context; defined below the graph so lower layers can read it
KEY_TASK: Final = TASK_KEY
KEY_CHECKPOINT_NS: Final = "checkpoint_ns"
KEY_CHECKPOINT_ID: Final = "checkpoint_id"
KEY_THREAD_ID: Final = "thread_id"
# configurable keys LangGraph copies into run metadata (not arbitrary ones)
PROPAGATE_TO_METADATA: Final = (
    "thread_id",
    "checkpoint_id",
    "checkpoint_ns",
    "task_id",
    "run_id",
    "assistant_id",
    "graph_id",
)
# metadata keys the tasks stream leaves out (LangGraph's EXCLUDED_METADATA_KEYS)
EXCLUDED_METADATA_KEYS: Final = frozenset(
    (
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "thread_id",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    )
)
