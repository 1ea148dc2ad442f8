"""The AG-UI fold: a run's Agent Streaming Protocol events (``_chat_runs.ChatRuns.events``)
in, AG-UI events (``ag_ui.core``) out. Pure: no HTTP, no clock, no ids of its own making
beyond ones derived from the run's (so equal runs give equal streams).

What maps to what (``docs/ag-ui.md`` has the table):

- ``messages`` of an AI message: each content block is its own AG-UI item: a ``text``
  block ``TEXT_MESSAGE_START/CONTENT/END`` (the message's id), a ``reasoning`` block
  ``REASONING_START`` + ``REASONING_MESSAGE_START/CONTENT/END`` + ``REASONING_END``, a
  ``tool_call_chunk`` block ``TOOL_CALL_START/ARGS/END`` under its own call id (parallel
  calls never share one: each block is its own call). A tool's mirrored message (role
  ``tool``) is skipped: ``tools`` carries the result once.
- ``tools``: ``tool-finished`` / ``tool-error`` -> ``TOOL_CALL_RESULT`` (a call no model
  streamed gets its ``TOOL_CALL_START/ARGS/END`` at ``tool-started``).
- root ``values``: the state keys other than ``messages``: ``STATE_SNAPSHOT`` first, then
  ``STATE_DELTA`` (RFC 6902) when they change.
- root ``tasks``: ``STEP_STARTED`` / ``STEP_FINISHED`` per node.
- ``custom``: ``CUSTOM`` (``name`` / ``value`` when the item is exactly such a pair, else
  ``name="custom"`` and the item as ``value``).
- ``input.requested``: kept for ``RUN_FINISHED``'s ``interrupt`` outcome.
- the root ``lifecycle`` end: ``RUN_FINISHED`` (``success`` with the run's usage,
  ``interrupt``, or ``cancelled`` when stopped), or ``RUN_ERROR`` when it failed. Items
  still open are closed first (the client refuses a ``RUN_FINISHED`` with open ones).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.core.token_usage import aggregate_token_usage, token_usage_from_langchain_metadata

__all__ = ["AgUiFold", "ProtocolEvent", "json_patch"]

_ENDS = ("completed", "failed", "interrupted")


class ProtocolEvent(Protocol):
    """What the fold reads of a logged event (``_proto_log.LoggedEvent``)."""

    @property
    def method(self) -> str: ...
    @property
    def namespace(self) -> tuple[str, ...]: ...
    @property
    def data(self) -> Any: ...


@dataclass
class _Block:
    kind: str  # "text" | "reasoning" | "tool"
    item_id: str


@dataclass
class _Message:
    message_id: str
    ai: bool
    blocks: dict[int, _Block]


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_patch(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """An RFC 6902 patch from ``old`` to ``new``: objects key by key, a list that only
    grew as ``add``s at its end, anything else replaced whole."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = []
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{_pointer(key)}"})
        for key, value in new.items():
            where = f"{path}/{_pointer(key)}"
            if key not in old:
                ops.append({"op": "add", "path": where, "value": value})
            else:
                ops.extend(json_patch(old[key], value, where))
        return ops
    if isinstance(old, list) and isinstance(new, list) and new[: len(old)] == old:
        return [{"op": "add", "path": f"{path}/-", "value": v} for v in new[len(old) :]]
    return [{"op": "replace", "path": path, "value": new}]


def _field(message: Any, key: str) -> Any:
    """A state message's field, whether a LangChain message or its JSON form."""
    if isinstance(message, dict):
        return message.get(key)
    return getattr(message, key, None)


def _message_id(message: Any) -> str | None:
    found = _field(message, "id")
    return found if isinstance(found, str) else None


def _text_of(content: Any) -> str:
    """The text of an AI message's content (its text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in content
            if isinstance(p, str) or (isinstance(p, dict) and p.get("type") == "text")
        )
    return ""


def _text(content: Any) -> str:
    """A tool result's content as AG-UI's string: text as is, text blocks joined,
    anything else as JSON."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return "".join(p["text"] for p in content)
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)


class AgUiFold:
    """One run's AG-UI events: ``start()``, then ``feed(event)`` for each of the run's
    protocol events (its last the terminal root ``lifecycle``), then ``close()``."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.finished = False
        self._messages: dict[tuple[str, ...], _Message] = {}
        self._open: dict[str, BaseEvent] = {}  # item id -> its END event, in opening order
        self._calls: set[str] = set()  # tool calls started on the wire
        self._results: set[str] = set()  # tool calls whose result is on the wire
        self._sent: set[str] = set()  # message ids the client has (or is being sent)
        self._state: dict[str, Any] | None = None
        self._steps: dict[str, int] = {}
        self._interrupts: list[Interrupt] = []
        self._usage: list[TokenUsage] = []

    def start(self) -> list[BaseEvent]:
        return [RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id)]

    def feed(self, event: ProtocolEvent) -> list[BaseEvent]:
        if self.finished:
            return []
        handler = getattr(self, "_on_" + event.method.replace(".", "_"), None)
        data = event.data
        if handler is None or not isinstance(data, dict):
            return []
        out: list[BaseEvent] = handler(tuple(event.namespace), data)
        return out

    def close(self) -> list[BaseEvent]:
        """A stream that ended without its terminal event (the log lost it): an error."""
        if self.finished:
            return []
        self.finished = True
        return [RunErrorEvent(message="The run's events ended early", code="incomplete_stream")]

    # ------------------------------------------------------------------ messages

    def _on_messages(self, ns: tuple[str, ...], data: dict[str, Any]) -> list[BaseEvent]:
        kind = data.get("event")
        if kind == "message-start":
            message_id = str(data.get("id") or f"{self.run_id}-{len(self._messages)}")
            self._sent.add(message_id)
            self._messages[ns] = _Message(message_id, data.get("role") == "ai", {})
            return []
        message = self._messages.get(ns)
        if message is None or not message.ai:
            return []
        if kind == "message-finish":
            usage = token_usage_from_langchain_metadata(data.get("usage"))
            if usage is not None:
                self._usage.append(usage)
            out: list[BaseEvent] = []
            for index in list(message.blocks):
                out += self._end_block(message, index)
            del self._messages[ns]
            return out
        found = data.get("index")
        if not isinstance(found, int):
            return []
        index = found
        if kind == "content-block-start":
            return self._start_block(message, index, data.get("content") or {})
        if kind == "content-block-delta":
            return self._delta(message, index, data.get("delta") or {})
        if kind == "content-block-finish":
            return self._end_block(message, index)
        return []

    def _start_block(self, message: _Message, index: int, content: Any) -> list[BaseEvent]:
        kind = content.get("type") if isinstance(content, dict) else None
        mid = message.message_id
        out: list[BaseEvent] = []
        if kind == "text":
            message.blocks[index] = _Block("text", mid)
            out.append(TextMessageStartEvent(message_id=mid, role="assistant"))
            self._open[mid] = TextMessageEndEvent(message_id=mid)
            out += self._delta(message, index, {"type": "text-delta", "text": content["text"]})
        elif kind == "reasoning":
            rid = f"{mid}-reasoning-{index}"
            message.blocks[index] = _Block("reasoning", rid)
            out += [ReasoningStartEvent(message_id=rid), ReasoningMessageStartEvent(message_id=rid)]
            self._open[rid] = ReasoningMessageEndEvent(message_id=rid)
            text = content.get("reasoning", "")
            out += self._delta(message, index, {"type": "reasoning-delta", "reasoning": text})
        elif kind == "tool_call_chunk":
            call_id = str(content.get("id") or f"{mid}-call-{index}")
            message.blocks[index] = _Block("tool", call_id)
            self._calls.add(call_id)
            out.append(
                ToolCallStartEvent(
                    tool_call_id=call_id,
                    tool_call_name=str(content.get("name") or ""),
                    parent_message_id=mid,
                )
            )
            self._open[call_id] = ToolCallEndEvent(tool_call_id=call_id)
            out += self._delta(message, index, {"type": "tool-call-delta", "args": content["args"]})
        return out

    def _delta(self, message: _Message, index: int, delta: Any) -> list[BaseEvent]:
        block = message.blocks.get(index)
        if block is None or not isinstance(delta, dict):
            return []
        if block.kind == "text" and delta.get("text"):
            return [TextMessageContentEvent(message_id=block.item_id, delta=delta["text"])]
        if block.kind == "reasoning" and delta.get("reasoning"):
            return [
                ReasoningMessageContentEvent(message_id=block.item_id, delta=delta["reasoning"])
            ]
        if block.kind == "tool" and delta.get("args"):
            return [ToolCallArgsEvent(tool_call_id=block.item_id, delta=delta["args"])]
        return []

    def _end_block(self, message: _Message, index: int) -> list[BaseEvent]:
        block = message.blocks.pop(index, None)
        if block is None:
            return []
        return self._close_item(block.item_id)

    def _close_item(self, item_id: str) -> list[BaseEvent]:
        end = self._open.pop(item_id, None)
        if end is None:
            return []
        if isinstance(end, ReasoningMessageEndEvent):
            return [end, ReasoningEndEvent(message_id=item_id)]
        return [end]

    # ------------------------------------------------------------------ tools

    def _on_tools(self, ns: tuple[str, ...], data: dict[str, Any]) -> list[BaseEvent]:
        kind = data.get("event")
        call_id = data.get("tool_call_id")
        if not isinstance(call_id, str):
            return []
        if kind == "tool-started" and call_id not in self._calls:
            # a call no model streamed (a node that called the tool itself)
            self._calls.add(call_id)
            args = json.dumps(data.get("input", {}), ensure_ascii=False, separators=(",", ":"))
            name = str(data.get("tool_name") or "")
            return [
                ToolCallStartEvent(tool_call_id=call_id, tool_call_name=name),
                ToolCallArgsEvent(tool_call_id=call_id, delta=args),
                ToolCallEndEvent(tool_call_id=call_id),
            ]
        if kind == "tool-finished":
            output: Any = data.get("output")
            if hasattr(output, "tool_call_id") and hasattr(output, "content"):  # a ToolMessage
                output = {"id": getattr(output, "id", None), "content": output.content}
            if isinstance(output, dict) and "content" in output:
                content = _text(output["content"])
                message_id = str(output.get("id") or f"tool-{call_id}")
            else:
                content, message_id = _text(output), f"tool-{call_id}"
            out = self._close_item(call_id)
            self._results.add(call_id)
            self._sent.add(message_id)
            out.append(
                ToolCallResultEvent(
                    message_id=message_id, tool_call_id=call_id, content=content, role="tool"
                )
            )
            return out
        if kind == "tool-error":
            out = self._close_item(call_id)
            self._results.add(call_id)
            message = str(data.get("message") or "tool error")
            out.append(
                ToolCallResultEvent(
                    message_id=f"tool-{call_id}",
                    tool_call_id=call_id,
                    content=f"Error: {message}",
                    role="tool",
                )
            )
            return out
        return []

    # ------------------------------------------------------------------ state, steps

    def _on_values(self, ns: tuple[str, ...], data: dict[str, Any]) -> list[BaseEvent]:
        if ns:
            return []
        state = {k: v for k, v in data.items() if k != "messages"}
        messages = data.get("messages")
        messages = messages if isinstance(messages, list) else []
        if self._state is None:  # the thread as the run found it: the client has it
            self._state = state
            self._sent |= {i for i in map(_message_id, messages) if i}
            return [StateSnapshotEvent(snapshot=state)]
        out = self._unstreamed(messages)
        patch = json_patch(self._state, state)
        self._state = state
        if patch:
            out.append(StateDeltaEvent(delta=patch))
        return out

    def _unstreamed(self, messages: list[Any]) -> list[BaseEvent]:
        """The AI and tool messages new in the state that no ``messages`` / ``tools``
        event carried (a node that returned a finished message): sent whole."""
        out: list[BaseEvent] = []
        for message in messages:
            mid = _message_id(message)
            if not mid or mid in self._sent:
                continue
            self._sent.add(mid)
            kind = _field(message, "type")
            if kind in ("ai", "AIMessage", "AIMessageChunk"):
                text = _text_of(_field(message, "content"))
                if text:
                    out += [
                        TextMessageStartEvent(message_id=mid, role="assistant"),
                        TextMessageContentEvent(message_id=mid, delta=text),
                        TextMessageEndEvent(message_id=mid),
                    ]
                for call in _field(message, "tool_calls") or []:
                    call_id = call.get("id") if isinstance(call, dict) else None
                    if not isinstance(call_id, str) or call_id in self._calls:
                        continue
                    self._calls.add(call_id)
                    args = json.dumps(call.get("args", {}), ensure_ascii=False)
                    out += [
                        ToolCallStartEvent(
                            tool_call_id=call_id,
                            tool_call_name=str(call.get("name") or ""),
                            parent_message_id=mid,
                        ),
                        ToolCallArgsEvent(tool_call_id=call_id, delta=args),
                        ToolCallEndEvent(tool_call_id=call_id),
                    ]
            elif kind in ("tool", "ToolMessage"):
                call_id = _field(message, "tool_call_id")
                if isinstance(call_id, str) and call_id not in self._results:
                    self._results.add(call_id)
                    content = _text(_field(message, "content"))
                    out.append(
                        ToolCallResultEvent(
                            message_id=mid, tool_call_id=call_id, content=content, role="tool"
                        )
                    )
        return out

    def _on_tasks(self, ns: tuple[str, ...], data: dict[str, Any]) -> list[BaseEvent]:
        name = data.get("name")
        if ns or not isinstance(name, str):
            return []
        if "triggers" in data or "input" in data:  # a node starts
            count = self._steps.get(name, 0)
            self._steps[name] = count + 1
            return [StepStartedEvent(step_name=name)] if count == 0 else []
        count = self._steps.get(name, 0)
        if count == 0:
            return []
        if count == 1:
            del self._steps[name]
            return [StepFinishedEvent(step_name=name)]
        self._steps[name] = count - 1
        return []

    def _on_custom(self, ns: tuple[str, ...], data: Any) -> list[BaseEvent]:
        if (
            isinstance(data, dict)
            and set(data) == {"name", "value"}
            and isinstance(data["name"], str)
        ):
            return [CustomEvent(name=data["name"], value=data["value"])]
        return [CustomEvent(name="custom", value=data)]

    def _on_input_requested(self, ns: tuple[str, ...], data: dict[str, Any]) -> list[BaseEvent]:
        payload = data.get("payload")
        self._interrupts.append(
            Interrupt(
                id=str(data.get("interrupt_id")),
                reason="input_required",
                message=payload if isinstance(payload, str) else None,
                metadata={"payload": payload, "namespace": list(ns)},
            )
        )
        return []

    # ------------------------------------------------------------------ the end

    def _on_lifecycle(self, ns: tuple[str, ...], data: dict[str, Any]) -> list[BaseEvent]:
        end = data.get("event")
        if ns or end not in _ENDS:
            return []
        self.finished = True
        if end == "failed":
            message = str(data.get("error") or "The run failed")
            kind = message.partition(":")[0] if ":" in message else None
            usage = aggregate_token_usage(self._usage) or None
            return [RunErrorEvent(message=message, code=kind, usage=usage)]
        out: list[BaseEvent] = []
        for item_id in list(self._open):
            out += self._close_item(item_id)
        out += [StepFinishedEvent(step_name=name) for name in self._steps]
        self._steps.clear()
        outcome: Any
        if end == "completed":
            outcome = RunFinishedSuccessOutcome()
        elif self._interrupts:
            outcome = RunFinishedInterruptOutcome(interrupts=self._interrupts)
        else:
            outcome = RunFinishedCancelledOutcome()
        out.append(
            RunFinishedEvent(
                thread_id=self.thread_id,
                run_id=self.run_id,
                outcome=outcome,
                usage=aggregate_token_usage(self._usage) or None,
            )
        )
        return out
