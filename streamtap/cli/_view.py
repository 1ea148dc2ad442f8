"""A terminal view of a graph's multi-mode stream, drawn with rich as items arrive.

Tokens are printed the moment they arrive, on a line tagged with the node that streams
them; node updates, custom events and states are printed as single lines in between.
Whatever the modes, the view keeps the last AI message it saw, so a usage line can be
printed at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streamtap.accumulate import Accumulator

__all__ = ["STREAM_MODES", "StreamView", "parse_stream_modes"]

# The graph's stream modes that need no checkpointer.
STREAM_MODES = ("messages", "updates", "values", "custom", "tasks", "debug")
_PREVIEW = 100


def parse_stream_modes(value: str) -> list[str]:
    """``"messages,updates"`` -> ``["messages", "updates"]``; unknown names raise ValueError."""
    modes = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [mode for mode in modes if mode not in STREAM_MODES]
    if unknown or not modes:
        raise ValueError(
            f"unknown stream mode(s) {', '.join(unknown) or '(none given)'}: "
            f"use a comma-separated list of {', '.join(STREAM_MODES)}"
        )
    return list(dict.fromkeys(modes))


def _preview(value: Any) -> str:
    """One readable line for a state value; messages show as ``type: text``."""
    if isinstance(value, BaseMessage):
        text = value.text or "".join(
            f"{call['name']}({call['args']})" for call in getattr(value, "tool_calls", [])
        )
        shown = f"{value.type}: {text!r}"
    elif isinstance(value, list) and value and all(isinstance(v, BaseMessage) for v in value):
        shown = "[" + ", ".join(_preview(v) for v in value) + "]"
    elif isinstance(value, Mapping):
        shown = "{" + ", ".join(f"{k!r}: {_preview(v)}" for k, v in value.items()) + "}"
    else:
        shown = repr(value)
    return shown if len(shown) <= _PREVIEW else shown[: _PREVIEW - 1] + "…"


class StreamView:
    """Renders ``(mode, payload)`` items of ``graph.stream(stream_mode=[...])``.

    ``show`` names the modes to print; items of other modes are only looked at (for the
    final state and the usage line), so a command can ask for ``values`` to learn the
    result without showing every state.
    """

    def __init__(self, console: Console, *, show: Iterable[str]) -> None:
        self.console = console
        self.show = frozenset(show)
        self.started = time.monotonic()
        self.first_token: float | None = None
        self.state: Any = None
        self.last_message: AIMessage | AIMessageChunk | None = None
        self.tokens = 0
        self._open: str | None = None  # id of the message whose tokens are being printed
        self._acc = Accumulator()  # the streaming message, for the usage line
        self._acc_id: str | None = None

    # -- dispatch -------------------------------------------------------------------
    def handle(self, mode: str, payload: Any) -> None:
        if mode == "messages":
            chunk, metadata = payload
            self._message(chunk, metadata)
            return
        if mode == "values":
            self.state = payload
        if mode in ("updates", "values"):
            self._remember(payload.values() if mode == "updates" else [payload])
        if mode not in self.show:
            return
        self.end_line()
        if mode == "updates":
            for node, update in payload.items():
                self.console.print(
                    f"[green]✓ {escape(node)}[/green] [dim]update[/dim] {escape(_preview(update))}"
                )
        elif mode == "custom":
            self.console.print(f"[magenta]• custom[/magenta] {escape(_preview(payload))}")
        else:
            self.console.print(f"[blue]{mode}[/blue] {escape(_preview(payload))}")

    def end_line(self) -> None:
        """Close an open token line before printing anything else."""
        if self._open is not None:
            self.console.print()
            self._open = None

    # -- tokens -----------------------------------------------------------------------
    def _message(self, chunk: Any, metadata: Mapping[str, Any]) -> None:
        if not isinstance(chunk, AIMessageChunk):
            if isinstance(chunk, AIMessage):
                self.last_message = chunk
            return  # whole messages a node returned are shown by its update
        if chunk.id != self._acc_id:
            self._acc, self._acc_id = Accumulator(), chunk.id
        self._acc.add(chunk)
        if "messages" in self.show:
            self._print_chunk(chunk, str(metadata.get("langgraph_node", "?")))
        if chunk.chunk_position == "last":
            self.last_message = self._acc.message()
            self._acc, self._acc_id = Accumulator(), None
            self.end_line()

    def _print_chunk(self, chunk: AIMessageChunk, node: str) -> None:
        pieces: list[tuple[str, str]] = []
        if isinstance(chunk.content, str):
            pieces.append((chunk.content, ""))
        else:
            for block in chunk.content:
                if isinstance(block, str):
                    pieces.append((block, ""))
                elif block.get("type") == "text":
                    pieces.append((block.get("text") or "", ""))
                elif block.get("type") == "reasoning":
                    pieces.append((block.get("reasoning") or "", "dim italic"))
        for call in chunk.tool_call_chunks:
            pieces.append(((call.get("name") or "") + (call.get("args") or ""), "yellow"))
        pieces = [(text, style) for text, style in pieces if text]
        if not pieces:
            return
        if self.first_token is None:
            self.first_token = time.monotonic() - self.started
        self.tokens += 1
        if self._open != chunk.id:
            self.end_line()
            self.console.print(f"[bold cyan]{escape(node)}[/bold cyan] ▸ ", end="")
            self._open = chunk.id
        for text, style in pieces:
            self.console.print(text, style=style or None, end="", markup=False, highlight=False)

    def _remember(self, values: Iterable[Any]) -> None:
        for value in values:
            if not isinstance(value, Mapping):
                continue
            for item in value.values():
                items = item if isinstance(item, list) else [item]
                for message in items:
                    if isinstance(message, AIMessage):
                        self.last_message = message

    # -- summary -----------------------------------------------------------------------
    def print_state(self, state: Mapping[str, Any], title: str = "final state") -> None:
        self.end_line()
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        table.add_column("key", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in state.items():
            table.add_row(str(key), _preview(value) if not isinstance(value, str) else value)
        self.console.print(table)

    def usage_line(self) -> str:
        """``usage: 17 in + 15 out = 32 tokens · finish stop · model · first token 0.71 s · 0.9 s``."""
        total = time.monotonic() - self.started
        parts: list[str] = []
        message = self.last_message
        usage = message.usage_metadata if message is not None else None
        if usage:
            parts.append(
                f"usage: {usage['input_tokens']} in + {usage['output_tokens']} out "
                f"= {usage['total_tokens']} tokens"
            )
        else:
            parts.append("usage: not reported")
        metadata = message.response_metadata if message is not None else {}
        if finish := metadata.get("finish_reason"):
            parts.append(f"finish {finish}")
        if model := metadata.get("model_name"):
            parts.append(str(model))
        if self.first_token is not None:
            parts.append(f"first token {self.first_token:.2f} s")
        parts.append(f"{total:.2f} s")
        return " · ".join(parts)
