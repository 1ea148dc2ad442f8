"""Emitting LangGraph's deprecation warnings: one helper, so each call site is one line.

The warnings point (``stacklevel``) at the user's code that used the deprecated spelling,
as LangGraph's do, so ``-W error`` and ``pytest.warns`` report the right line.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Final, Literal

from streamtap.graph.warnings import (
    LangGraphDeprecatedSinceV05,
    LangGraphDeprecatedSinceV10,
    LangGraphDeprecatedSinceV11,
    LangGraphDeprecationWarning,
)

__all__ = ["graph_schemas", "node_input_schema", "warn_deprecated", "warn_renamed"]

_SINCE: Final[dict[str, type[LangGraphDeprecationWarning]]] = {
    "0.5": LangGraphDeprecatedSinceV05,
    "1.0": LangGraphDeprecatedSinceV10,
    "1.1": LangGraphDeprecatedSinceV11,
}


def warn_deprecated(message: str, since: Literal["0.5", "1.0", "1.1"], stacklevel: int = 3) -> None:
    """Warn ``message`` as LangGraph's warning class for that version.

    ``stacklevel=3``: the caller of the function that calls this.
    """
    warnings.warn(message, _SINCE[since], stacklevel=stacklevel)


def warn_renamed(
    old: str, new: str, since: Literal["0.5", "1.0", "1.1"], stacklevel: int = 4
) -> None:
    """LangGraph's warning for a keyword it renamed (``input`` -> ``input_schema``, ...)."""
    warn_deprecated(
        f"`{old}` is deprecated and will be removed. Please use `{new}` instead.",
        since,
        stacklevel,
    )


def _refuse_unknown(method: str, deprecated: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for name in deprecated:
        if name not in known:
            raise TypeError(f"{method}() got an unexpected keyword argument '{name}'")


def graph_schemas(
    deprecated: Mapping[str, Any], context_schema: Any, input_schema: Any, output_schema: Any
) -> tuple[Any, Any, Any]:
    """``StateGraph(config_schema=, input=, output=)``, LangGraph's old keyword names: warned,
    and used where the new name was not given."""
    _refuse_unknown("StateGraph.__init__", deprecated, ("config_schema", "input", "output"))
    if "config_schema" in deprecated:
        warn_renamed("config_schema", "context_schema", "1.0", stacklevel=5)
        if context_schema is None:
            context_schema = deprecated["config_schema"]
    if "input" in deprecated:
        warn_renamed("input", "input_schema", "0.5", stacklevel=5)
        if input_schema is None:
            input_schema = deprecated["input"]
    if "output" in deprecated:
        warn_renamed("output", "output_schema", "0.5", stacklevel=5)
        if output_schema is None:
            output_schema = deprecated["output"]
    return context_schema, input_schema, output_schema


def node_input_schema(deprecated: Mapping[str, Any], input_schema: Any) -> Any:
    """``add_node(input=)``, LangGraph's old name of ``input_schema``."""
    _refuse_unknown("StateGraph.add_node", deprecated, ("input",))
    if "input" in deprecated:
        warn_renamed("input", "input_schema", "0.5", stacklevel=5)
        if input_schema is None:
            input_schema = deprecated["input"]
    return input_schema
