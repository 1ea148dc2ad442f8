"""The web demo: the local model (``streamtap[local]``) behind the chat page.

``run_web_demo()`` is what ``streamtap demo --web`` calls: it starts llama.cpp with
SmolLM2 on 127.0.0.1, wraps it in a one-node graph and serves the chat page,
printing its URL. Everything stops when the server does (Ctrl-C).
"""

from __future__ import annotations

import signal
from typing import Any

__all__ = ["chat_graph", "run_web_demo"]


def chat_graph(model: Any) -> Any:
    """START -> chat -> END over ``MessagesState``; ``chat`` streams the model's answer."""
    from streamtap.graph import END, START, MessagesState, StateGraph, get_stream_writer

    async def chat(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"progress": 0})
        answer = await model.ainvoke(state["messages"])
        get_stream_writer()({"progress": 100})
        return {"messages": [answer]}

    builder = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder.compile()


def run_web_demo(
    *, host: str = "127.0.0.1", port: int = 8123, model: str = "smollm2", max_tokens: int = 256
) -> int:
    """Start the local model and the chat server; returns when the server stops."""
    import uvicorn

    from streamtap import chat_model
    from streamtap.local import serve as serve_local
    from streamtap.server import create_app

    with serve_local(model) as local:
        llm = chat_model(f"llamacpp:{local.alias}", base_url=local.base_url, max_tokens=max_tokens)
        app = create_app({"chat": chat_graph(llm)})
        shown = f"[{host}]" if ":" in host else host
        print(f"streamtap chat: http://{shown}:{port}/  (local model {local.model})", flush=True)
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit
        # so this ``with`` block still stops the model server (it has its own process group).
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning")
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
