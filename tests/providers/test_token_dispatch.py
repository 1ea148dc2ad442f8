"""Tokens reach callback handlers directly when langchain-core's async dispatch would add
nothing (``streamtap.providers._dispatch``), and through it otherwise: the handlers see
the same calls either way."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.callbacks.manager import AsyncCallbackManagerForLLMRun
from langchain_core.outputs import ChatGenerationChunk

from streamtap.providers import StreamtapChatModel
from streamtap.providers._dispatch import direct_token_sink
from streamtap.testing import FakeChatModel
from streamtap.testing.fake import words

SCRIPT = words("one two three")


class Recorder(BaseCallbackHandler):
    """Every token call, as the handler saw it; a streaming handler (the ``tap_output``
    pair), so langchain-core streams an invoke to it."""

    def __init__(self, *, inline: bool = True) -> None:
        self.run_inline = inline
        self.calls: list[tuple[Any, ...]] = []

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        assert isinstance(chunk, ChatGenerationChunk)
        self.calls.append(
            (
                token,
                chunk.message.content,
                kwargs["run_id"],
                kwargs["parent_run_id"],
                kwargs["tags"],
            )
        )


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        self.tokens.append(token)


class Quiet(BaseCallbackHandler):
    """Listens to nothing about tokens: does not force the slow path."""


class Failing(BaseCallbackHandler):
    run_inline = True

    def __init__(self, *, raise_error: bool) -> None:
        self.raise_error = raise_error

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        raise ValueError("handler broke")


def _manager(*handlers: BaseCallbackHandler) -> AsyncCallbackManagerForLLMRun:
    return AsyncCallbackManagerForLLMRun(
        run_id=UUID(int=1),
        handlers=list(handlers),
        inheritable_handlers=[],
        parent_run_id=UUID(int=2),
        tags=["t"],
    )


def test_direct_only_when_every_token_listener_is_inline_and_sync() -> None:
    assert direct_token_sink(_manager(Recorder(), Quiet())) is not None
    assert direct_token_sink(_manager(Recorder(inline=False))) is None
    assert direct_token_sink(_manager(Recorder(), AsyncRecorder())) is None

    class Ignoring(AsyncRecorder):
        ignore_llm = True  # type: ignore[assignment]

    assert direct_token_sink(_manager(Recorder(), Ignoring())) is not None


async def test_direct_and_langchain_dispatch_give_handlers_the_same_calls() -> None:
    """One invoke per path: an inline handler (direct) and a non-inline one (langchain-core
    runs it in an executor) record the same tokens with the same ids and tags."""
    direct, slow = Recorder(), Recorder(inline=False)
    for handler in (direct, slow):
        fake = FakeChatModel(scripts=[SCRIPT], id_prefix="m-")
        await fake.ainvoke("hi", {"callbacks": [handler], "tags": ["x"]})
    assert [c[:2] for c in direct.calls] == [
        ("one ", "one "), ("two ", "two "), ("three", "three"), ("", ""),
    ]  # fmt: skip
    assert [c[:2] for c in slow.calls] == [c[:2] for c in direct.calls]
    assert [c[4] for c in direct.calls] == [c[4] for c in slow.calls] == [["x"]] * 4
    assert len({c[2] for c in direct.calls}) == 1 and direct.calls[0][3] is None


async def test_an_async_handler_beside_gets_every_token_once() -> None:
    inline, other = Recorder(), AsyncRecorder()
    fake = FakeChatModel(scripts=[SCRIPT])
    message = await fake.ainvoke("hi", {"callbacks": [inline, other]})
    assert message.content == "one two three"
    assert other.tokens == ["one ", "two ", "three", ""]
    assert [c[0] for c in inline.calls] == other.tokens


async def test_a_failing_handler_is_logged_or_raised_as_langchain_core_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="langchain_core.callbacks.manager"):
        message = await FakeChatModel(scripts=[SCRIPT]).ainvoke(
            "hi", {"callbacks": [Recorder(), Failing(raise_error=False)]}
        )
    assert message.content == "one two three"
    assert "Error in Failing.on_llm_new_token callback: ValueError('handler broke')" in caplog.text
    with pytest.raises(ValueError, match="handler broke"):
        await FakeChatModel(scripts=[SCRIPT]).ainvoke(
            "hi", {"callbacks": [Recorder(), Failing(raise_error=True)]}
        )


async def test_no_token_callbacks_without_a_streaming_handler() -> None:
    """langchain-core streams an invoke to callbacks only when a streaming handler is
    attached (or ``stream=True``): the fake's own path keeps that rule."""
    plain = Failing(raise_error=True)  # would raise on any token
    message = await FakeChatModel(scripts=[SCRIPT]).ainvoke("hi", {"callbacks": [plain]})
    assert message.content == "one two three"
    chunks = [c async for c in FakeChatModel(scripts=[SCRIPT]).astream("hi")]
    assert [c.content for c in chunks] == ["one ", "two ", "three", ""]


def test_generate_signature_is_computed_once() -> None:
    for name, cls in itertools.product(
        ("_generate", "_agenerate"), (StreamtapChatModel, FakeChatModel)
    ):
        fn = getattr(cls, name)
        assert fn.__signature__ == inspect.signature(fn, follow_wrapped=False)
        assert "run_manager" in inspect.signature(fn).parameters


class Hooked(Recorder):
    """A handler with streamtap's ``on_message_token`` (as the graph's messages handler)."""

    def __init__(self, *, fail: bool = False, raise_error: bool = False) -> None:
        super().__init__()
        self.fail, self.raise_error = fail, raise_error
        self.messages: list[tuple[Any, UUID]] = []

    def on_message_token(self, message: Any, run_id: UUID) -> None:
        if self.fail:
            raise ValueError("hook broke")
        self.messages.append((message, run_id))


async def test_a_lone_handler_with_the_message_hook_gets_the_message_itself() -> None:
    hooked = Hooked()
    fake = FakeChatModel(scripts=[SCRIPT])
    message = await fake.ainvoke("hi", {"callbacks": [hooked]})
    assert message.content == "one two three"
    assert [m.content for m, _ in hooked.messages] == ["one ", "two ", "three", ""]
    assert hooked.calls == []  # not also through on_llm_new_token
    assert len({run_id for _, run_id in hooked.messages}) == 1
    # beside another listener, every handler gets on_llm_new_token as langchain-core calls it
    hooked, other = Hooked(), Recorder()
    await FakeChatModel(scripts=[SCRIPT]).ainvoke("hi", {"callbacks": [hooked, other]})
    assert hooked.messages == [] and [c[0] for c in hooked.calls] == [c[0] for c in other.calls]
    assert len(other.calls) == 4


async def test_a_failing_message_hook_is_logged_or_raised_as_langchain_core_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="langchain_core.callbacks.manager"):
        message = await FakeChatModel(scripts=[SCRIPT]).ainvoke(
            "hi", {"callbacks": [Hooked(fail=True)]}
        )
    assert message.content == "one two three"
    assert "Error in Hooked.on_llm_new_token callback: ValueError('hook broke')" in caplog.text
    with pytest.raises(ValueError, match="hook broke"):
        await FakeChatModel(scripts=[SCRIPT]).ainvoke(
            "hi", {"callbacks": [Hooked(fail=True, raise_error=True)]}
        )
