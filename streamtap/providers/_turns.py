"""Conversations as strictly alternating user / assistant turns of content blocks.

Anthropic's Messages API, Bedrock's Converse and Gemini all take the system prompt
apart, tool results as user-turn blocks, and reject two turns of one role in a row, so
a LangChain history is folded the same way for all three; each wire supplies its
blocks, and Gemini its names for them (``"model"`` turns of ``"parts"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

__all__ = ["alternating_turns"]

Blocks = list[dict[str, Any]]


def alternating_turns(
    messages: Sequence[BaseMessage],
    *,
    vendor: str,
    assistant: Callable[[AIMessage], Blocks],
    tool_result: Callable[[ToolMessage], dict[str, Any]],
    user: Callable[[Any], Blocks],
    assistant_role: str = "assistant",
    key: str = "content",
) -> tuple[list[SystemMessage], list[dict[str, Any]]]:
    """(the system messages, the rest as ``{"role", key}`` turns, same-role turns merged).

    ``assistant`` / ``tool_result`` / ``user`` make a wire's blocks from an AI message, a
    tool message and a human message's content; a turn without blocks is dropped.
    """
    system: list[SystemMessage] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: Blocks) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1][key].extend(blocks)
        else:
            turns.append({"role": role, key: list(blocks)})

    for message in messages:
        if isinstance(message, SystemMessage):
            system.append(message)
        elif isinstance(message, AIMessage):
            add(assistant_role, assistant(message))
        elif isinstance(message, ToolMessage):
            add("user", [tool_result(message)])
        elif isinstance(message, HumanMessage) or message.type in ("human", "user"):
            add("user", user(message.content))
        else:
            raise ValueError(
                f"cannot send a {type(message).__name__} to {vendor}: use System, Human, AI or "
                "Tool messages"
            )
    return system, turns
