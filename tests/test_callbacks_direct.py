"""``streamtap._callbacks``: chain start/end delivered directly give handlers the calls
langchain-core's async dispatch gives them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.callbacks.manager import AsyncCallbackManager

from streamtap._callbacks import achain_end, achain_start, inline_listeners


class Chains(BaseCallbackHandler):
    def __init__(self, *, inline: bool) -> None:
        self.run_inline = inline
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.calls.append(("start", inputs, kwargs))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.calls.append(("end", outputs, kwargs))


class AsyncChains(AsyncCallbackHandler):
    async def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        pass


def _manager(handler: BaseCallbackHandler) -> AsyncCallbackManager:
    return AsyncCallbackManager(
        handlers=[handler],
        parent_run_id=UUID(int=7),
        tags=["a"],
        metadata={"m": 1},
    )


async def test_direct_start_and_end_match_langchain_cores() -> None:
    direct, slow = Chains(inline=True), Chains(inline=False)
    runs = []
    for handler in (direct, slow):
        run = await achain_start(_manager(handler), None, {"x": 1}, name="node", run_id=UUID(int=9))
        await achain_end(run, {"y": 2})
        runs.append(run)
    assert direct.calls == slow.calls
    assert [c[0] for c in direct.calls] == ["start", "end"]
    start = direct.calls[0][2]
    assert start["run_id"] == UUID(int=9) and start["parent_run_id"] == UUID(int=7)
    assert start["tags"] == ["a"] and start["metadata"] == {"m": 1} and start["name"] == "node"
    assert vars(runs[0]).keys() == vars(runs[1]).keys()
    assert (runs[0].run_id, runs[0].tags, runs[0].metadata) == (UUID(int=9), ["a"], {"m": 1})


def test_an_async_or_executor_handler_keeps_langchain_cores_path() -> None:
    assert inline_listeners([Chains(inline=True)], "on_chain_end", "ignore_chain") is not None
    assert inline_listeners([Chains(inline=False)], "on_chain_end", "ignore_chain") is None
    assert inline_listeners([AsyncChains()], "on_chain_end", "ignore_chain") is None
    # a handler that does not override the event is not a listener
    assert inline_listeners([AsyncChains()], "on_chain_start", "ignore_chain") == []
