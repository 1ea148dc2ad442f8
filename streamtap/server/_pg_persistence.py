"""Thread state and the store in Postgres, with LangGraph's own libraries.

``langgraph-checkpoint-postgres`` keeps checkpoints (``AsyncPostgresSaver``) and the
long-term store (``AsyncPostgresStore``) in tables of their own, which LangGraph's server
and any LangGraph app read too: a thread served by streamtap can be opened by a LangGraph
graph on the same database, and back. Both need the running event loop to be made, so the
app makes them at start-up (``create_app``'s lifespan) and binds them to its graphs then.
The library sets up its own tables (``setup()``): idempotent, but not safe when several
processes run it at once (they race on ``CREATE TABLE``), so it runs under a session
advisory lock: the first process sets up, the others wait and find nothing to do. They
wait by polling ``pg_try_advisory_lock``, not in ``pg_advisory_lock``: the setup builds
indexes ``CONCURRENTLY``, which waits for every statement in the database that holds a
snapshot, and a waiting ``pg_advisory_lock`` holds one while the lock's holder (another
connection of the process building the index) is idle, a deadlock Postgres cannot see.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

__all__ = ["PostgresPersistence", "open_persistence"]

#: ``pg_advisory_lock`` key of LangGraph's ``setup()`` ("lgsetup" in ASCII)
_SETUP_LOCK = 0x6C67736574757000


@dataclass(slots=True)
class PostgresPersistence:
    checkpointer: Any
    store: Any


async def open_persistence(pool: Any) -> PostgresPersistence:
    """The saver and the store on ``pool`` (the backend's: one pool per process, which
    ``GET /ready`` checks), their tables set up. LangGraph's savers ask every cursor for
    dict rows themselves, so the pool's connections need no row factory."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.store.postgres.aio import AsyncPostgresStore

    checkpointer = AsyncPostgresSaver(pool)
    store = AsyncPostgresStore(pool)
    async with pool.connection() as lock:
        while True:
            cur = await lock.execute("SELECT pg_try_advisory_lock(%s)", (_SETUP_LOCK,))
            row = await cur.fetchone()
            if row and row[0]:
                break
            await asyncio.sleep(0.1)
        try:
            await checkpointer.setup()
            await store.setup()
        finally:
            await lock.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
    return PostgresPersistence(checkpointer, store)
