"""Gemini ``streamGenerateContent?alt=sse`` (AI Studio and Vertex): the event fold and the wire.

Every SSE event is one whole ``GenerateContentResponse`` as JSON: candidates whose
``content.parts`` carry this event's new text, thoughts or function calls, plus
``usageMetadata`` and, on the last event, ``finishReason``. There is no terminal
event: a complete stream is one that reached a ``finishReason`` (or a blocked
prompt's ``promptFeedback.blockReason``); a body that ends before either was cut.

What other adapters get wrong here, and this fold keeps:

* ``thought: true`` parts are reasoning, never text;
* every ``thoughtSignature`` is kept byte for byte (the base64 text as sent, never
  decoded and re-encoded: pydantic's bytes round trip turns ``+/`` into ``-_``) in
  ``extras["signatures"]`` of a reasoning block: the thought run it signs, or, for a
  text or function-call part, the latest reasoning block (a block of its own only
  when the message has none, so the content equals every other wire's). Each entry
  says which part carried it: ``{"on": "thought" | "text" | "empty_text", "offset":
  <chars before the part in the block's reasoning / the message's text>}`` or
  ``{"on": "function_call", "tool_call_id": ...}``; ``_request`` puts it back on the
  same part. A thought run's first signature is also ``extras["signature"]``;
* function calls arrive whole (``args`` an object): one tool-call chunk each, with
  Gemini's ``id`` or a stable synthesized one;
* ``candidatesTokenCount`` leaves thinking out: output tokens are candidates +
  thoughts, as langchain counts them.

Pure: no SDK import. Events are the wire's camelCase dicts; the snake_case dicts of
the SDK's typed objects (``normalize()`` over ``generate_content_stream``) are read
too, and ``bytes`` signatures (the typed objects' form) are base64-encoded back.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessageChunk

from streamtap.providers._chunks import ChunkMapper, InStreamError
from streamtap.providers._wire import Wire

__all__ = [
    "SIGNATURE_TOOL_CALL_KEY",
    "SYNTHETIC_ID_PREFIX",
    "WIRE",
    "GeminiMapper",
    "finish_reason",
]

#: Prefix of tool-call ids streamtap made up (Gemini sent none); never sent back to Gemini.
SYNTHETIC_ID_PREFIX = "call_gemini_"
#: langchain-google-genai's ``additional_kwargs`` key for function-call signatures
#: (``{tool_call_id: signature}``): read on the way back so its messages round-trip too.
SIGNATURE_TOOL_CALL_KEY = "__gemini_function_call_thought_signatures__"

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "LANGUAGE": "content_filter",
    "UNEXPECTED_TOOL_CALL": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
    "MISSING_THOUGHT_SIGNATURE": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "OTHER": "stop",
}

#: Google's error ``status`` -> the error ``type`` streamtap's error table knows.
_ERROR_TYPES = {
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "UNAVAILABLE": "overloaded_error",
    "INTERNAL": "api_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "NOT_FOUND": "invalid_request_error",
}

#: Part fields that are the part's payload, not metadata about it.
_PAYLOADS = ("text", "functionCall", "function_call")


def finish_reason(native: str) -> str:
    """Gemini's ``finishReason`` normalized; unknown (newer) reasons count as a stop."""
    return _FINISH.get(native, "stop")


def _get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    """A field in the wire's camelCase or the SDK objects' snake_case."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _name(value: Any) -> str:
    """An enum-valued field as the wire spells it: the SDK's typed objects hold enums
    (``FinishReason.STOP``), the decoded JSON their names (``"STOP"``)."""
    return str(getattr(value, "value", value))


def _signature(value: Any) -> str | None:
    """A signature as the wire's base64 text; bytes (the SDK's typed form) are encoded."""
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def _count(usage: Mapping[str, Any], camel: str, snake: str) -> Any:
    return _get(usage, camel, snake)


def _plus(a: Any, b: Any) -> Any:
    """``a + b`` as token counts; an unusable one is passed on so set_usage sees it."""
    from streamtap.providers._chunks import token_count

    ta, tb = token_count(a), token_count(b)
    if ta is None:
        return a
    if tb is None:
        return b
    return ta + tb


class GeminiMapper(ChunkMapper):
    """Gemini ``GenerateContentResponse`` events -> normalized chunks."""

    provider = "gemini"
    model_provider = "google_genai"

    def __init__(self, *, model_provider: str | None = None) -> None:
        super().__init__(model_provider=model_provider)
        #: The open reasoning block's index while consecutive thought parts stream.
        self._thought_block: int | None = None
        #: The reasoning block that keeps the signatures of the parts that follow it.
        self._host: int | None = None
        self._thought_len = 0  # chars of the open thought block so far
        self._thought_signed = False
        self._text_len = 0  # chars of (non-thought) text so far: signature offsets
        self._citations: list[Any] = []
        #: A function call whose arguments are still streaming (Vertex ``partialArgs``).
        self._pending: _StreamedCall | None = None

    # -- the fold ---------------------------------------------------------------
    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        if "error" in event:
            raise InStreamError(_error_payload(event["error"]))
        if self.message_id is None:
            response_id = _get(event, "responseId", "response_id")
            self.message_id = str(response_id) if response_id else f"gemini-{uuid.uuid4().hex}"
        if self.model_name is None:
            version = _get(event, "modelVersion", "model_version")
            if version:
                self.model_name = str(version)
        out: list[AIMessageChunk] = []
        candidates = event.get("candidates") or ()
        if candidates:
            out = self._candidate(candidates[0])
        usage = _get(event, "usageMetadata", "usage_metadata")
        if usage:
            self._usage(usage)
        feedback = _get(event, "promptFeedback", "prompt_feedback")
        if feedback:
            self.extra_metadata["prompt_feedback"] = feedback
            reason = _get(feedback, "blockReason", "block_reason")
            if reason and not candidates:  # the prompt was refused: nothing will follow
                self.finish(_name(reason), "content_filter")
                self.terminated = True
        return out

    def _candidate(self, candidate: Mapping[str, Any]) -> list[AIMessageChunk]:
        out: list[AIMessageChunk] = []
        content = candidate.get("content") or {}
        for part in content.get("parts") or ():
            out.extend(self._part(part))
        for camel, snake, key in (
            ("groundingMetadata", "grounding_metadata", "grounding_metadata"),
            ("urlContextMetadata", "url_context_metadata", "url_context_metadata"),
            ("safetyRatings", "safety_ratings", "safety_ratings"),
            ("finishMessage", "finish_message", "finish_message"),
            ("avgLogprobs", "avg_logprobs", "avg_logprobs"),
            ("logprobsResult", "logprobs_result", "logprobs_result"),
        ):
            value = _get(candidate, camel, snake)
            if value is not None:
                self.extra_metadata[key] = value
        citations = _get(candidate, "citationMetadata", "citation_metadata")
        if citations:
            found = _get(citations, "citationSources", "citation_sources") or citations.get(
                "citations"
            )
            self._citations.extend(found or ())
            self.extra_metadata["citation_metadata"] = {"citations": list(self._citations)}
        native = _get(candidate, "finishReason", "finish_reason")
        if native:
            out.extend(self._flush_call())
            native = _name(native)
            self.finish(native, finish_reason(native))
            self.terminated = True
        return out

    def _part(self, part: Mapping[str, Any]) -> list[AIMessageChunk]:
        signature = _signature(_get(part, "thoughtSignature", "thought_signature"))
        if part.get("thought") is True:
            thought = str(part.get("text") or "")
            if self._thought_block is None:
                self._thought_block = self._host = self.new_block()
                self._thought_len = 0
                self._thought_signed = False
            extras: dict[str, Any] | None = None
            if signature:
                entry = {"on": "thought", "offset": self._thought_len, "signature": signature}
                extras = {"signatures": [entry]}
                if not self._thought_signed:  # the Anthropic-style key, set once per block
                    extras["signature"] = signature
                    self._thought_signed = True
            self._thought_len += len(thought)
            return self.reasoning(self._thought_block, thought, extras)
        self._thought_block = None
        text = part.get("text")
        call = _get(part, "functionCall", "function_call")
        if call is not None:
            return self._function_call(call, signature)
        if text is not None:
            text = str(text)
            out: list[AIMessageChunk] = []
            if signature:
                on = "text" if text else "empty_text"
                out.extend(self._sign({"on": on, "offset": self._text_len, "signature": signature}))
            self._text_len += len(text)
            out.extend(self.text(text))
            return out
        # executableCode, codeExecutionResult, inlineData, fileData... and newer kinds
        block = {k: v for k, v in part.items() if v is not None}
        if signature:
            block["thoughtSignature"] = signature
        return self.non_standard(block)

    def _sign(self, entry: dict[str, Any]) -> list[AIMessageChunk]:
        """A signature of a non-thought part, kept on the latest reasoning block.

        Hosting it there (a block of its own only when the message has none) keeps the
        message's content what every other wire gives for the same answer, while
        ``entry`` says exactly which part carried it for the next request.
        """
        if self._host is None:
            self._host = self.new_block()
        return self.reasoning(self._host, "", {"signatures": [entry]})

    def _function_call(
        self, call: Mapping[str, Any], signature: str | None
    ) -> list[AIMessageChunk]:
        streamed = (
            "partialArgs" in call
            or "partial_args" in call
            or (_get(call, "willContinue", "will_continue") is not None)
        )
        out: list[AIMessageChunk] = []
        pending = self._pending
        if pending is not None and call.get("name"):
            out.extend(self._flush_call())  # a new call: the streamed one is complete
            pending = None
        if pending is not None:  # a nameless part continues it: more arguments, or its end
            pending.add(call)
            if not _get(call, "willContinue", "will_continue"):
                out.extend(self._flush_call())
            return out
        ordinal = self.new_tool_call()
        call_id = str(call.get("id") or f"{SYNTHETIC_ID_PREFIX}{self.message_id}_{ordinal}")
        if signature:
            out.extend(
                self._sign({"on": "function_call", "tool_call_id": call_id, "signature": signature})
            )
        name = call.get("name") or ""
        if streamed:  # Vertex's streamFunctionCallArguments: the header now, the args when whole
            self._pending = _StreamedCall(ordinal, call.get("args"))
            self._pending.add(call)
            out.extend(self.tool_call(ordinal, id=call_id, name=name))
            if not _get(call, "willContinue", "will_continue"):
                out.extend(self._flush_call())
            return out
        args = call.get("args")
        arguments = json.dumps(args, ensure_ascii=False) if args is not None else "{}"
        out.extend(self.tool_call(ordinal, id=call_id, name=name, args=arguments))
        return out

    def _flush_call(self) -> list[AIMessageChunk]:
        """The streamed call's arguments, whole, as its one argument fragment."""
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        arguments = json.dumps(pending.args, ensure_ascii=False)
        return self.tool_call(pending.ordinal, args=arguments)

    def _usage(self, usage: Mapping[str, Any]) -> None:
        thoughts = _count(usage, "thoughtsTokenCount", "thoughts_token_count")
        self.set_usage(
            usage,
            input_tokens=_plus(
                _count(usage, "promptTokenCount", "prompt_token_count"),
                _count(usage, "toolUsePromptTokenCount", "tool_use_prompt_token_count"),
            ),
            output_tokens=_plus(
                _count(usage, "candidatesTokenCount", "candidates_token_count"), thoughts
            ),
            cache_read=_count(usage, "cachedContentTokenCount", "cached_content_token_count"),
            reasoning=thoughts,
        )

    def eof(self, *, strict: bool) -> list[AIMessageChunk] | None:
        """End of body: complete only after a ``finishReason`` (or a blocked prompt).

        The closing chunk waits for the end of the body, so usage sent after the
        finish reason (in a later event) still lands on it.
        """
        return self.last() if self.terminated else None


class _StreamedCall:
    """A function call whose arguments arrive as ``partialArgs`` (JSON paths and values).

    Strings for one path may come in pieces (``willContinue``); they are joined.
    Numbers arrive as doubles: integral ones become ints, as the model wrote them.
    """

    __slots__ = ("_continues", "args", "ordinal")

    def __init__(self, ordinal: int, args: Any) -> None:
        self.ordinal = ordinal
        self.args: Any = dict(args) if isinstance(args, Mapping) else {}
        self._continues: str | None = None  # the path whose string is still open

    def add(self, call: Mapping[str, Any]) -> None:
        if isinstance(call.get("args"), Mapping) and call["args"]:
            self.args.update(call["args"])
        for arg in _get(call, "partialArgs", "partial_args") or ():
            path = str(_get(arg, "jsonPath", "json_path") or "$")
            value = _partial_value(arg)
            if isinstance(value, str) and self._continues == path:
                value = str(_get_path(self.args, path) or "") + value
            self.args = _set_path(self.args, path, value)
            more = _get(arg, "willContinue", "will_continue")
            self._continues = path if more and isinstance(value, str) else None


def _partial_value(arg: Mapping[str, Any]) -> Any:
    for camel, snake in (
        ("stringValue", "string_value"),
        ("boolValue", "bool_value"),
        ("numberValue", "number_value"),
    ):
        value = _get(arg, camel, snake)
        if value is not None:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value
    return None


def _path_steps(path: str) -> list[str | int]:
    """``$.a.b[0]['c d']`` -> ``["a", "b", 0, "c d"]`` (the RFC 9535 subset Vertex sends)."""
    steps: list[str | int] = []
    i = 1 if path.startswith("$") else 0
    while i < len(path):
        if path[i] == ".":
            j = i + 1
            while j < len(path) and path[j] not in ".[":
                j += 1
            steps.append(path[i + 1 : j])
            i = j
        elif path[i] == "[":
            j = path.index("]", i)
            inner = path[i + 1 : j]
            steps.append(int(inner) if inner.isdigit() else inner.strip("'\""))
            i = j + 1
        else:
            i += 1
    return steps


def _get_path(root: Any, path: str) -> Any:
    node = root
    for step in _path_steps(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _set_path(root: Any, path: str, value: Any) -> Any:
    steps = _path_steps(path)
    if not steps:
        return value
    node = root
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        if following is None:
            break
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            if node[step] is None:
                node[step] = empty
        elif node.get(step) is None:
            node[step] = empty
        node = node[step]
    last = steps[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return root


def _error_payload(error: Any) -> dict[str, Any]:
    """An in-stream ``{"error": {"code", "message", "status"}}`` in streamtap's error shape."""
    if not isinstance(error, Mapping):
        return {"type": "api_error", "message": str(error)}
    status = error.get("status")
    etype = _ERROR_TYPES.get(status) if isinstance(status, str) else None
    if etype is None and error.get("code") == 429:
        etype = "rate_limit_error"
    return {
        "type": etype or "api_error",
        "code": status if isinstance(status, str) else None,
        "message": str(error.get("message") or error),
    }


# --------------------------------------------------------------------------- input side


def _owns_event(event: Mapping[str, Any]) -> bool:
    return (
        any(
            key in event
            for key in ("candidates", "usageMetadata", "promptFeedback", "usage_metadata")
        )
        and "choices" not in event
    )


def _owns_module(module: str) -> bool:
    return module == "google.genai" or module.startswith("google.genai.")


def _owns_sdk_stream(stream: Any) -> bool:
    """A (async) generator from ``client.models.generate_content_stream`` and kin."""
    code = getattr(stream, "gi_code", None) or getattr(stream, "ag_code", None)
    filename = getattr(code, "co_filename", "") or ""
    return "google/genai/" in filename.replace("\\", "/") or _owns_module(type(stream).__module__)


WIRE = Wire(
    name="gemini",
    mapper=GeminiMapper,
    terminal="an event with a finishReason",
    named_events_only=False,
    owns_event=_owns_event,
    owns_event_module=_owns_module,
    owns_sdk_stream=_owns_sdk_stream,
    # Gemini accepts a trailing model turn but does not promise to continue it
    # (thinking models restart their answer): no prefill continuation.
    continuation="none",
    server_stop_sequences=True,
)
