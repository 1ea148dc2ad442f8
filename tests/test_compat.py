"""Every private-API reach in streamtap._compat has a fallback, and each fallback works.

Also: importing streamtap changes no other library's state.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from streamtap import _compat
from streamtap.providers._chunks import generation_chunk, text_chunk
from streamtap.providers._wire_stream import iter_sse

DOCS = ['{"a": [1, 2, {"b": null}]}', ' {"a": 1} ', '{"a": 1} trailing', "[1, 2]", '"x"']


@pytest.mark.parametrize("data", DOCS)
def test_json_loads_matches_the_stdlib_with_and_without_the_scanner(
    data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def outcome() -> Any:
        try:
            return ("ok", _compat.json_loads(data))
        except json.JSONDecodeError as exc:
            return ("error", exc.msg, exc.pos)

    try:
        expected: Any = ("ok", json.loads(data))
    except json.JSONDecodeError as exc:
        expected = ("error", exc.msg, exc.pos)
    assert outcome() == expected
    monkeypatch.setattr(_compat, "_scan_once", None)
    assert outcome() == expected


def test_build_model_fast_and_slow_paths_equal_validation() -> None:
    valid = AIMessageChunk(content="hi", id="m1")
    for build in (_compat._fast, _compat._slow):
        built = build(AIMessageChunk, dict(valid.__dict__), {"content", "id"})
        assert built == valid
        assert built.model_dump() == valid.model_dump()
        assert built.model_fields_set == {"content", "id"}
    assert _compat.build_model is _compat._fast  # the installed pydantic takes the fast path


def test_chunk_builders_equal_their_validated_forms() -> None:
    assert text_chunk("m1", "hi") == AIMessageChunk(content="hi", id="m1")
    message = AIMessageChunk(content="hi", id="m1")
    assert generation_chunk(message) == ChatGenerationChunk(message=message)


class _TypedOnly:
    """An SDK stream without the raw SSE hook: its typed events are used."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def __iter__(self) -> Any:
        return iter(self.events)


def test_sse_without_the_sdk_hook_reads_typed_events() -> None:
    events = [{"type": "message_start"}, {"type": "message_stop"}]
    assert _compat.sdk_sse_events(_TypedOnly(events)) is None
    assert list(iter_sse(_TypedOnly(events), named_only=True)) == events


def test_callers_local_finds_the_run_manager_or_gives_none() -> None:
    manager = CallbackManagerForLLMRun.get_noop_manager()

    def inner() -> CallbackManagerForLLMRun | None:
        return _compat.callers_local("run_manager", CallbackManagerForLLMRun, depth=1)

    def caller() -> CallbackManagerForLLMRun | None:
        run_manager = manager  # noqa: F841 - read from this frame
        return inner()

    assert caller() is manager
    assert inner() is None


def test_the_streaming_marker_has_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_core.tracers._streaming", None)
    try:
        reloaded = importlib.reload(_compat)
        handler = reloaded.StreamingCallbackHandler()
        assert handler.tap_output_iter(None, [1]) == [1]
        assert handler.tap_output_aiter(None, [1]) == [1]
    finally:
        monkeypatch.undo()
        importlib.reload(_compat)
    assert _compat.StreamingCallbackHandler.__module__ == "langchain_core.tracers._streaming"


def test_importing_streamtap_changes_no_other_library() -> None:
    script = textwrap.dedent(
        """
        from langchain_core.messages.block_translators import PROVIDER_TRANSLATORS
        before = {k: dict(v) for k, v in PROVIDER_TRANSLATORS.items()}
        import streamtap, streamtap.providers, streamtap.middleware, streamtap.resilience
        import streamtap.graph, streamtap.errors
        after = {k: dict(v) for k, v in PROVIDER_TRANSLATORS.items()}
        assert before == after, sorted(set(after) ^ set(before))
        streamtap.chat_model("anthropic:claude-sonnet-4-6", api_key="k")
        wrapped = PROVIDER_TRANSLATORS["anthropic"]["translate_content"]
        assert getattr(wrapped, "__streamtap_wrapped__", False), "a model wraps its translator"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_running_loop_answers_with_and_without_a_loop() -> None:
    import asyncio

    assert _compat.running_loop() is None
    assert _compat._running_loop_public() is None

    async def inside() -> bool:
        loop = asyncio.get_running_loop()
        return _compat.running_loop() is loop and _compat._running_loop_public() is loop

    assert asyncio.run(inside())


def test_the_httpx2_transport_hook_names_real_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx2

    paths, method = _compat.httpx2_transport_hook()
    for path in paths:
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert cls in (httpx2.Client, httpx2.AsyncClient) and callable(getattr(cls, method))
    monkeypatch.delattr(httpx2.Client, method)
    with pytest.raises(RuntimeError, match="cannot intercept"):
        _compat.httpx2_transport_hook()
