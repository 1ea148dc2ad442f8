"""``print_mode=`` / ``debug=True``: parts printed to the console as LangGraph prints them.

LangGraph runs the print modes as extra stream modes and prints each of their parts as
it leaves its queue: ``[mode]`` in bold, then (for a subgraph's part, when subgraphs
are streamed) ``[graph=<namespace>]`` in yellow, then the payload's ``repr``. A part
of a mode that is printed but not asked for is not yielded.

Here that happens where the loop hands a part to the consumer's queue, so the consumer
sees exactly the parts of the modes it asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from streamtap.graph._runtime import StreamPart

__all__ = ["DEBUG_PRINT_MODES", "bolded", "colored", "printing_put"]

#: what ``debug=True`` prints (LangGraph's)
DEBUG_PRINT_MODES = frozenset(("updates", "values"))

_COLORS = {
    "black": "0;30",
    "red": "0;31",
    "green": "0;32",
    "yellow": "0;33",
    "blue": "0;34",
    "magenta": "0;35",
    "cyan": "0;36",
    "white": "0;37",
    "gray": "1;30",
}


def colored(text: str, color: str) -> str:
    return f"\033[1;3{_COLORS[color]}m{text}\033[0m"


def bolded(text: str) -> str:
    return f"\033[1m{text}\033[0m"


def format_part(part: StreamPart, subgraphs: bool) -> str:
    ns, mode, payload = part
    if subgraphs and ns:
        return " ".join((bolded(f"[{mode}]"), colored(f"[graph={ns}]", "yellow"), repr(payload)))
    return " ".join((bolded(f"[{mode}]"), repr(payload)))


def printing_put(
    put: Callable[[StreamPart], None],
    stream_modes: frozenset[str],
    print_modes: frozenset[str],
    subgraphs: bool,
) -> Callable[[StreamPart], None]:
    """``put`` that first prints the parts of ``print_modes`` and only passes on those of
    ``stream_modes``; ``put`` itself when nothing is printed."""
    if not print_modes:
        return put

    def put_printing(part: StreamPart) -> None:
        mode = part[1]
        if mode in print_modes:
            print(format_part(part, subgraphs))
        if mode in stream_modes:
            put(part)

    return put_printing
