"""``InvokeStreamsToCallbacks.agenerate``: an invoke run in the caller's own task gives
handlers, results and errors exactly what langchain-core's own ``agenerate`` gives.

The oracle is langchain-core itself: the same model invoked with the direct path
turned off (``_UPSTREAM_HELPERS = False`` sends it to ``BaseChatModel.agenerate``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import HumanMessage

from streamtap.providers import _dispatch
from streamtap.testing import FakeChatModel
from streamtap.testing.fake import Fail, Usage


class Recorder(BaseCallbackHandler):
    """Every call a chat-model run makes, with run ids numbered in order of appearance."""

    def __init__(self, *, inline: bool = True) -> None:
        self.run_inline = inline
        self.calls: list[tuple[str, Any]] = []
        self._ids: dict[UUID, int] = {}

    def _norm(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        out = dict(kwargs)
        for key in ("run_id", "parent_run_id"):
            if out.get(key) is not None:
                out[key] = self._ids.setdefault(out[key], len(self._ids))
        return out

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls.append(("start", (serialized, messages, self._norm(kwargs))))

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.calls.append(("token", (token, self._norm(kwargs))))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.calls.append(("end", (response, self._norm(kwargs))))

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.calls.append(("error", (repr(error), self._norm(kwargs))))


class StreamingRecorder(Recorder):
    """Counts as a streaming handler (``tap_output_aiter``): an invoke streams its tokens."""

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls.append("start")

    async def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.calls.append("end")


class LlmStartOnly(BaseCallbackHandler):
    """No ``on_chat_model_start``: langchain-core falls back to ``on_llm_start``."""

    def __init__(self) -> None:
        self.prompts: list[Any] = []

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.prompts.append(prompts)


SCRIPT = ["Hello", " world", Usage(input_tokens=3, output_tokens=2)]
CONFIG = {"tags": ["t"], "metadata": {"m": 1}, "run_name": "named", "run_id": UUID(int=5)}


async def _both(
    monkeypatch: pytest.MonkeyPatch, script: list[Any], **invoke: Any
) -> tuple[list[Any], ...]:
    """(direct calls, upstream calls, direct outcome, upstream outcome)."""
    calls, outcomes = [], []
    for direct in (True, False):
        monkeypatch.setattr(_dispatch, "_UPSTREAM_HELPERS", direct)
        recorder = StreamingRecorder()
        model = FakeChatModel(scripts=[script])
        try:
            outcome: Any = await model.ainvoke(
                [HumanMessage("hi")], {**invoke, "callbacks": [recorder]}
            )
        except Exception as exc:
            outcome = exc
        calls.append(recorder.calls)
        outcomes.append(outcome)
    return calls[0], calls[1], outcomes[0], outcomes[1]


async def test_an_invoke_gives_handlers_what_langchain_core_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    direct, upstream, message, expected = await _both(monkeypatch, SCRIPT, **CONFIG)
    assert direct == upstream
    assert [name for name, _ in direct] == ["start", "token", "token", "token", "end"]
    start = direct[0][1][2]
    assert start["run_id"] == 0  # the config's run_id: the first id seen
    assert start["name"] == "named" and start["tags"] == ["t"]
    assert start["metadata"]["m"] == 1 and start["metadata"]["ls_model_name"] == "fake-model"
    assert start["batch_size"] == 1 and "invocation_params" in start
    assert message == expected
    assert message.content == "Hello world" and message.usage_metadata["total_tokens"] == 5


async def test_a_failing_invoke_reports_the_error_as_langchain_core_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = [Fail(ValueError("bad request"))]
    direct, upstream, error, expected = await _both(monkeypatch, script)
    assert direct == upstream
    assert [name for name, _ in direct] == ["start", "error"]
    assert "bad request" in direct[1][1][0]
    assert type(error) is type(expected) is ValueError and str(error) == str(expected)


async def test_the_result_carries_the_run_as_langchain_core_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = []
    for direct in (True, False):
        monkeypatch.setattr(_dispatch, "_UPSTREAM_HELPERS", direct)
        model = FakeChatModel(scripts=[SCRIPT])
        results.append(await model.agenerate([[HumanMessage("hi")]], run_id=UUID(int=8)))
    assert results[0] == results[1]
    assert results[0].run is not None and results[0].run[0].run_id == UUID(int=8)


async def test_an_invoke_runs_in_the_callers_task() -> None:
    """No task of its own (upstream gathers one, and another to end the run)."""
    loop = asyncio.get_running_loop()
    created: list[Any] = []
    original = loop.create_task

    def counting(coro: Any, **kwargs: Any) -> Any:
        created.append(coro)
        return original(coro, **kwargs)

    loop.create_task = counting  # type: ignore[method-assign]
    try:
        model = FakeChatModel(scripts=[SCRIPT])
        await model.ainvoke("hi", {"callbacks": [Recorder()]})
    finally:
        loop.create_task = original  # type: ignore[method-assign]
    assert created == []


async def test_handlers_that_need_langchain_cores_dispatch_still_get_every_call() -> None:
    inline, later, fallback = StreamingRecorder(), AsyncRecorder(), LlmStartOnly()
    executor = StreamingRecorder(inline=False)
    model = FakeChatModel(scripts=[SCRIPT])
    await model.ainvoke("hi", {"callbacks": [inline, later, fallback, executor]})
    assert later.calls == ["start", "end"]
    assert fallback.prompts == [["Human: hi"]]
    assert [name for name, _ in executor.calls] == [name for name, _ in inline.calls]
    assert [name for name, _ in inline.calls] == ["start", "token", "token", "token", "end"]


async def test_a_batch_takes_langchain_cores_path() -> None:
    model = FakeChatModel(scripts=[["a"], ["b"]])
    result = await model.agenerate([[HumanMessage("1")], [HumanMessage("2")]])
    assert sorted(g[0].text for g in result.generations) == ["a", "b"]
    assert result.run is not None and len(result.run) == 2
