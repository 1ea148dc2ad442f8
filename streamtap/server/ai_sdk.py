"""Vercel AI SDK UI message streams (useChat): /ai-sdk/{graph_id}/chat (issue 23; being built).

A frontend protocol over the runs of ``_chat_runs.ChatRuns``: its events (the thread's
Agent Streaming Protocol log) encoded to this protocol's wire.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

__all__ = ["routes"]


def routes(api: Any) -> list[BaseRoute]:
    """This protocol's routes over the server's API object (``app._Api``)."""
    return []
