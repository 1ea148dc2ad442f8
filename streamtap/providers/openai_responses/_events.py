"""OpenAI Responses (``POST /v1/responses``): the event fold and the wire's facts.

``ResponsesMapper.feed`` folds one decoded Responses event into normalized
chunks. It relies on ``item_id`` first and ``output_index`` second, and never
on ``sequence_number``, because compatible servers (llama.cpp) omit the
indexes the SDK's high-level helper insists on. The API has no stop
sequences, so the fold applies ``stop=`` itself (``Wire.server_stop_sequences``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
)

from streamtap._stop import StopScanner
from streamtap.providers._chunks import ChunkMapper, InStreamError, WireViolation
from streamtap.providers._wire import Wire

_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
_SERVER_TOOL_ITEMS = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
    "mcp_call": "mcp",
}


class ResponsesMapper(ChunkMapper):
    """Responses stream events -> normalized chunks."""

    provider = "openai-responses"
    model_provider = "openai"

    def __init__(
        self, *, model_provider: str | None = None, stop: Sequence[str] | None = None
    ) -> None:
        super().__init__(model_provider=model_provider)
        # The API has no stop sequences: they are applied here, on the text.
        self._stop = StopScanner(stop or ()) if stop and any(stop) else None
        self._tool_by_item: dict[str, int] = {}
        self._tool_by_output: dict[int, int] = {}
        self._tool_args_seen: set[int] = set()
        self._reasoning_blocks: dict[tuple[str, int], int] = {}
        self._annotation_blocks: dict[str, int] = {}
        # item id -> item type, from output_item.added: a delta aimed at an item of
        # another type breaks the protocol (see _expect).
        self._item_types: dict[Any, Any] = {}

    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        etype = event.get("type", "")
        if etype == "response.output_text.delta":
            if self._item_types.get(event.get("item_id"), "message") != "message":
                self._expect(event, "message")
            delta = event.get("delta") or ""
            return self._stop_text(delta) if self._stop is not None else self.text(delta)
        if etype == "response.function_call_arguments.delta":
            self._expect(event, "function_call")
            ordinal = self._tool_ordinal(event)
            if ordinal is None:
                raise WireViolation(
                    etype,
                    "function call arguments before any function_call item "
                    "(no response.output_item.added for one)",
                )
            self._tool_args_seen.add(ordinal)
            return self.tool_call(ordinal, args=event.get("delta") or "")
        if etype in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._expect(event, "reasoning")
            index = self._reasoning_block(event)
            return self.reasoning(index, event.get("delta") or "")
        if etype == "response.refusal.delta":
            self._expect(event, "message")
            return self.refusal(event.get("delta") or "")
        if etype == "response.output_item.added":
            return self._item_added(event.get("item") or {}, event.get("output_index"))
        if etype == "response.output_item.done":
            return self._item_done(event.get("item") or {})
        if etype == "response.output_text.annotation.added":
            return self._annotation(event)
        if etype in ("response.created", "response.in_progress", "response.queued"):
            self._response_info(event.get("response") or {})
            return []
        if etype == "response.completed":
            return self._terminal(event.get("response") or {}, "stop")
        if etype == "response.incomplete":
            response = event.get("response") or {}
            reason = (response.get("incomplete_details") or {}).get("reason")
            return self._terminal(response, _INCOMPLETE.get(reason or "", "length"), reason)
        if etype == "response.failed":
            response = event.get("response") or {}
            self._response_info(response)
            error = response.get("error") or {"message": "the response failed"}
            raise InStreamError(error)
        if etype == "error":
            nested = event.get("error")
            raise InStreamError(nested if isinstance(nested, dict) else event)
        return []  # part/summary bookkeeping events and event types newer than this code

    # -- helpers ---------------------------------------------------------------
    def _expect(self, event: dict[str, Any], item_type: str) -> None:
        """A delta must go to an item of its own type, when that item was announced.

        Deltas naming no announced item are accepted (compatible servers such as
        llama.cpp skip ids and ``output_item.added`` for messages).
        """
        announced = self._item_types.get(event.get("item_id"))
        if announced is not None and announced != item_type:
            raise WireViolation(
                event.get("type"),
                f"a delta for item {event.get('item_id')}, a {announced} item, "
                f"which takes no {event.get('type')}",
            )

    def _response_info(self, response: dict[str, Any]) -> None:
        if self.message_id is None and response.get("id"):
            self.message_id = response["id"]
        if response.get("model"):
            self.model_name = response["model"]
        if response.get("service_tier") is not None:
            self.extra_metadata["service_tier"] = response["service_tier"]

    def _terminal(
        self, response: dict[str, Any], finish: str, native: str | None = None
    ) -> list[AIMessageChunk]:
        self._response_info(response)
        if usage := response.get("usage"):
            in_details = usage.get("input_tokens_details") or {}
            out_details = usage.get("output_tokens_details") or {}
            self.set_usage(
                usage,
                input_tokens=usage.get("input_tokens"),
                output_tokens=usage.get("output_tokens"),
                cache_read=in_details.get("cached_tokens"),
                reasoning=out_details.get("reasoning_tokens"),
            )
        held = self._stop.flush() if self._stop is not None else ""
        if self._stop is not None and self._stop.stopped:
            finish, native = "stop", "stop_sequence"
        self.finish(native or response.get("status") or "completed", finish)
        self.terminated = True
        return self.text(held) + self.last()

    def _stop_text(self, delta: str) -> list[AIMessageChunk]:
        """Cut the text at the first stop sequence, holding back a possible prefix of one."""
        assert self._stop is not None
        if self._stop.stopped:
            return []
        shown = self._stop.feed(delta)
        if self._stop.stopped:
            self.finish("stop_sequence", "stop")
        return self.text(shown)

    def _tool_ordinal(self, event: dict[str, Any]) -> int | None:
        item_id = event.get("item_id")
        if item_id is not None and item_id in self._tool_by_item:
            return self._tool_by_item[item_id]
        output_index = event.get("output_index")
        if output_index is not None and output_index in self._tool_by_output:
            return self._tool_by_output[output_index]
        return self._tool_count - 1 if self._tool_count else None

    def _reasoning_block(self, event: dict[str, Any]) -> int:
        key = (
            str(event.get("item_id") or event.get("output_index")),
            event.get("summary_index") or 0,
        )
        if key not in self._reasoning_blocks:
            self._reasoning_blocks[key] = self.new_block()
        return self._reasoning_blocks[key]

    def _item_added(self, item: dict[str, Any], output_index: int | None) -> list[AIMessageChunk]:
        if item.get("id") is not None and item.get("type") is not None:
            self._item_types[item["id"]] = item["type"]
        if item.get("type") != "function_call":
            return []
        ordinal = self.new_tool_call()
        if item.get("id"):
            self._tool_by_item[item["id"]] = ordinal
        if output_index is not None:
            self._tool_by_output[output_index] = ordinal
        args = item.get("arguments") or ""
        if args:
            self._tool_args_seen.add(ordinal)
        return self.tool_call(
            ordinal, id=item.get("call_id") or item.get("id"), name=item.get("name"), args=args
        )

    def _item_done(self, item: dict[str, Any]) -> list[AIMessageChunk]:
        itype = item.get("type")
        if itype == "function_call":
            ordinal = self._tool_by_item.get(item.get("id", ""))
            if (
                ordinal is not None
                and ordinal not in self._tool_args_seen
                and item.get("arguments")
            ):
                self._tool_args_seen.add(ordinal)
                return self.tool_call(ordinal, args=item["arguments"])
            return []
        if itype == "reasoning":
            # The item id and encrypted content let the next turn send it back.
            extras = {"item_id": item.get("id")}
            if item.get("encrypted_content"):
                extras["encrypted_content"] = item["encrypted_content"]
            first = next(
                (v for (k, _), v in self._reasoning_blocks.items() if k == str(item.get("id"))),
                None,
            )
            index = first if first is not None else self.new_block()
            return self.reasoning(index, "", extras)
        if itype in _SERVER_TOOL_ITEMS:
            block = {
                "type": "server_tool_call",
                "id": item.get("id"),
                "name": _SERVER_TOOL_ITEMS[itype],
                "args": item.get("action") or {},
                "index": self.new_block(),
            }
            return [AIMessageChunk(content=[block], id=self.message_id)]
        if itype in ("message", None):
            return []
        return self.non_standard(item)

    def _annotation(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        key = str(event.get("item_id"))
        if key not in self._annotation_blocks:
            self._annotation_blocks[key] = self.new_block()
        raw = event.get("annotation") or {}
        annotation: dict[str, Any] = {"type": "citation"}
        for src, dst in (
            ("url", "url"),
            ("title", "title"),
            ("start_index", "start_index"),
            ("end_index", "end_index"),
        ):
            if src in raw:
                annotation[dst] = raw[src]
        extras = {
            k: v
            for k, v in raw.items()
            if k not in ("type", "url", "title", "start_index", "end_index")
        }
        if extras or raw.get("type") != "url_citation":
            annotation["extras"] = {**extras, "annotation_type": raw.get("type")}
        block = {
            "type": "text",
            "text": "",
            "annotations": [annotation],
            "index": self._annotation_blocks[key],
        }
        return [AIMessageChunk(content=[block], id=self.message_id)]


# --------------------------------------------------------------------------- input side


def _owns_event(event: Mapping[str, Any]) -> bool:
    kind = event.get("type")
    return isinstance(kind, str) and kind.startswith("response.")


def _owns_module(module: str) -> bool:
    return module.partition(".")[0] == "openai" and ".responses." in module


def _owns_sdk_stream(stream: Any) -> bool:
    try:
        path = str(stream.response.request.url.path)
    except AttributeError:
        return False
    return path.rstrip("/").endswith("/responses")


WIRE = Wire(
    name="openai-responses",
    mapper=ResponsesMapper,
    terminal="response.completed",
    named_events_only=False,
    owns_event=_owns_event,
    owns_event_module=_owns_module,
    owns_sdk_stream=_owns_sdk_stream,
    continuation="none",
    server_stop_sequences=False,
)
