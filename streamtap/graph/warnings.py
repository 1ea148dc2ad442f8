"""LangGraph's deprecation warnings, under the same names, versions and messages.

``langgraph.warnings`` lives in the ``langgraph`` distribution (the runtime streamtap.graph
replaces), so these are equal-named twins: code that filters or catches them imports them
from here (``from streamtap.graph.warnings import ...``), as it imports everything else.
When ``langgraph`` is installed too (``langgraph.prebuilt`` code on streamtap.graph, an app
half ported), each twin also subclasses LangGraph's class of its name, so a filter or
``pytest.warns`` written against ``langgraph.warnings`` catches streamtap's warning as well.
The ``since`` / ``expected_removal`` versions are LangGraph's, since the deprecations are
the ones LangGraph announced.
"""

from __future__ import annotations

import importlib

__all__ = (
    "LangGraphDeprecatedSinceV05",
    "LangGraphDeprecatedSinceV10",
    "LangGraphDeprecatedSinceV11",
    "LangGraphDeprecationWarning",
)


def _langgraph_twin(name: str) -> tuple[type[Warning], ...]:
    """LangGraph's warning class called ``name``, as an extra base, when langgraph is installed."""
    try:
        module = importlib.import_module("langgraph.warnings")
    except ImportError:
        return ()
    found = getattr(module, name, None)
    return (found,) if isinstance(found, type) and issubclass(found, Warning) else ()


class LangGraphDeprecationWarning(
    *(_langgraph_twin("LangGraphDeprecationWarning") or (DeprecationWarning,)),  # type: ignore[misc]
):
    """A deprecation LangGraph announced, with when it started and when it goes."""

    message: str
    since: tuple[int, int]
    expected_removal: tuple[int, int]

    def __init__(
        self,
        message: str,
        *args: object,
        since: tuple[int, int],
        expected_removal: tuple[int, int] | None = None,
    ) -> None:
        # not super(): with LangGraph's classes as bases, their __init__s take other arguments
        Warning.__init__(self, message, *args)
        self.message = message.rstrip(".")
        self.since = since
        self.expected_removal = (
            expected_removal if expected_removal is not None else (since[0] + 1, 0)
        )

    def __str__(self) -> str:
        return (
            f"{self.message}. Deprecated in LangGraph V{self.since[0]}.{self.since[1]}"
            f" to be removed in V{self.expected_removal[0]}.{self.expected_removal[1]}."
        )


class LangGraphDeprecatedSinceV05(
    LangGraphDeprecationWarning,
    *_langgraph_twin("LangGraphDeprecatedSinceV05"),  # type: ignore[misc]
):
    """Deprecated since LangGraph v0.5.0, to be removed in v2.0."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(0, 5), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV10(
    LangGraphDeprecationWarning,
    *_langgraph_twin("LangGraphDeprecatedSinceV10"),  # type: ignore[misc]
):
    """Deprecated since LangGraph v1.0.0, to be removed in v2.0."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 0), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV11(
    LangGraphDeprecationWarning,
    *_langgraph_twin("LangGraphDeprecatedSinceV11"),  # type: ignore[misc]
):
    """Deprecated since LangGraph v1.1.0, to be removed in v3.0."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 1), expected_removal=(3, 0))
