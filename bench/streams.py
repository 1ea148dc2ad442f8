"""Wire-exact SSE bodies of N text tokens, for OpenAI Chat Completions and Anthropic Messages.

The event shapes copy the recorded fixtures (``fixtures/<vendor>/text.sse``)
field for field, so the SDKs parse exactly what the real APIs send: the
per-chunk cost measured here is the cost a user pays. Token texts cycle
through a fixed list of short words, the typical size of a streamed token.
"""

from __future__ import annotations

import json
from typing import Final

__all__ = ["VENDORS", "Body", "body", "events", "expected_text"]

VENDORS: Final = ("openai", "anthropic")

_WORDS: Final = (" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")
_OPENAI_ID: Final = "chatcmpl-benchB3nchB3nchB3nchB3nchB3n"
_OPENAI_MODEL: Final = "gpt-4o-2024-08-06"
_ANTHROPIC_ID: Final = "msg_01BenchBenchBenchBenchBench"
_ANTHROPIC_MODEL: Final = "claude-sonnet-4-6"


def expected_text(tokens: int) -> str:
    """The text a ``tokens``-token body adds up to (every vendor streams the same words)."""
    return "".join(_WORDS[i % len(_WORDS)] for i in range(tokens))


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _openai_chunk(delta: dict[str, object], finish: str | None, obfuscation: str) -> str:
    return _dumps(
        {
            "id": _OPENAI_ID,
            "object": "chat.completion.chunk",
            "created": 1761904210,
            "model": _OPENAI_MODEL,
            "service_tier": "default",
            "system_fingerprint": "fp_cbf1785567",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
            "obfuscation": obfuscation,
        }
    )


def _openai_events(tokens: int) -> list[bytes]:
    out = [_openai_chunk({"role": "assistant", "content": "", "refusal": None}, None, "YkQmad")]
    for i in range(tokens):
        word = _WORDS[i % len(_WORDS)]
        out.append(_openai_chunk({"content": word}, None, "x" * (1 + i % 9)))
    out.append(_openai_chunk({}, "stop", "l"))
    usage = {
        "id": _OPENAI_ID,
        "object": "chat.completion.chunk",
        "created": 1761904210,
        "model": _OPENAI_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_cbf1785567",
        "choices": [],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": tokens,
            "total_tokens": 12 + tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "obfuscation": "fG",
    }
    out.append(_dumps(usage))
    events = [f"data: {data}\n\n".encode() for data in out]
    events.append(b"data: [DONE]\n\n")
    return events


def _anthropic_event(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {_dumps(data)}\n\n".encode()


def _anthropic_events(tokens: int) -> list[bytes]:
    usage = {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 1,
        "service_tier": "standard",
    }
    message: dict[str, object] = {
        "model": _ANTHROPIC_MODEL,
        "id": _ANTHROPIC_ID,
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "stop_details": None,
        "usage": usage,
    }
    out = [
        _anthropic_event("message_start", {"type": "message_start", "message": message}),
        _anthropic_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    for i in range(tokens):
        delta = {"type": "text_delta", "text": _WORDS[i % len(_WORDS)]}
        out.append(
            _anthropic_event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        )
    out.append(_anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    final_usage = {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": tokens,
    }
    out.append(
        _anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": final_usage,
            },
        )
    )
    out.append(_anthropic_event("message_stop", {"type": "message_stop"}))
    return out


def events(vendor: str, tokens: int) -> list[bytes]:
    """The SSE events (each ending in its blank line) of a ``tokens``-token text reply."""
    if tokens < 1:
        raise ValueError(f"a benchmark stream needs at least one token, got {tokens}")
    if vendor == "openai":
        return _openai_events(tokens)
    if vendor == "anthropic":
        return _anthropic_events(tokens)
    raise ValueError(f"unknown vendor {vendor!r}; use one of {', '.join(VENDORS)}")


class Body:
    """One response body, pre-cut into the pieces a transport hands the client.

    ``per_piece`` events travel together, as a server flushing every event
    (``per_piece=1``) or a proxy buffering a few would send them.
    """

    __slots__ = ("pieces", "tokens", "vendor")

    def __init__(self, vendor: str, tokens: int, *, per_piece: int = 1) -> None:
        if per_piece < 1:
            raise ValueError(f"per_piece must be >= 1, got {per_piece}")
        evs = events(vendor, tokens)
        self.vendor = vendor
        self.tokens = tokens
        self.pieces: tuple[bytes, ...] = tuple(
            b"".join(evs[i : i + per_piece]) for i in range(0, len(evs), per_piece)
        )

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


def body(vendor: str, tokens: int, *, per_piece: int = 1) -> Body:
    return Body(vendor, tokens, per_piece=per_piece)
