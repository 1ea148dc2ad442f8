"""Where a server's state lives: the backend ``create_app`` picks and what it opens at
start-up in Postgres.

In memory (the default) nothing is opened. With ``database_url`` (``PostgresBackend``)
start-up also brings the assistants (``PostgresAssistantStore``, the served graphs'
system assistants written once whoever starts first) and, for graphs and an app without
their own, LangGraph's Postgres checkpointer and store (``_pg_persistence``), so every
process serves the same threads, assistants and store items.
"""

from __future__ import annotations

from typing import Any

from streamtap.server.backend import MemoryBackend, RunBackend
from streamtap.server.postgres import PostgresBackend

__all__ = ["choose_backend", "open_shared_state", "shared_protocol_logs"]


def choose_backend(
    backend: RunBackend | None, database_url: str | None, redis_url: str | None
) -> RunBackend:
    if backend is not None and (database_url or redis_url):
        raise ValueError("give backend= or database_url= / redis_url=, not both")
    if database_url:
        if not redis_url:
            raise ValueError(
                "database_url keeps threads and runs in Postgres; each run's events go "
                "through Redis: add redis_url='redis://...'"
            )
        return PostgresBackend(database_url, redis_url)
    if redis_url:
        from streamtap.server.redis import RedisBackend

        return RedisBackend(redis_url)
    return backend if backend is not None else MemoryBackend()


async def open_shared_state(
    runs: RunBackend, manager: Any, api: Any, checkpointer: Any | None, own_store: bool
) -> None:
    """Bring up what a started ``PostgresBackend`` shares besides runs, on its pool."""
    if not isinstance(runs, PostgresBackend):
        return
    from streamtap.server._pg_assistants import PostgresAssistantStore

    assistants = PostgresAssistantStore(runs.pool)
    await assistants.serve((g.graph_id, g.assistant_id) for g in manager.graphs.values())
    manager.assistants = assistants
    if checkpointer is not None and own_store:
        return
    from streamtap.server._pg_persistence import open_persistence

    persistence = await open_persistence(runs.pool)
    saver = checkpointer if checkpointer is not None else persistence.checkpointer
    if not own_store:
        api.store = persistence.store
    for entry in manager.graphs.values():
        entry.bind(saver, api.store)


def shared_protocol_logs(runs: RunBackend) -> Any | None:
    """The started backend's protocol logs in Redis (``_proto_redis``), when runs are
    shared between processes; ``None``: the logs stay in this process."""
    from streamtap.server.redis import RedisBackend

    redis = runs.events if isinstance(runs, PostgresBackend) else runs
    return redis.protocol if isinstance(redis, RedisBackend) else None
