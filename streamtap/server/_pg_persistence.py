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
    pool: Any
    checkpointer: Any
    store: Any

    async def close(self) -> None:
        await self.pool.close()


async def open_persistence(
    database_url: str, *, pool_size: int = 10, connect_timeout: float = 5.0
) -> PostgresPersistence:
    """A pool as LangGraph's Postgres savers want it (autocommit, dict rows, no prepared
    statements, so it works behind PgBouncer), the saver and the store on it, set up."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.store.postgres.aio import AsyncPostgresStore
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=pool_size,
        open=False,
        kwargs={
            "autocommit": True,
            "prepare_threshold": None,
            "row_factory": dict_row,
            "connect_timeout": max(1, round(connect_timeout)),
        },
        check=AsyncConnectionPool.check_connection,
        timeout=connect_timeout,
    )
    await pool.open(wait=True, timeout=30)
    try:
        checkpointer = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        store = AsyncPostgresStore(pool)  # type: ignore[arg-type]
        async with pool.connection() as lock:
            while True:
                cur = await lock.execute("SELECT pg_try_advisory_lock(%s) AS got", (_SETUP_LOCK,))
                row = await cur.fetchone()
                if row and row["got"]:  # type: ignore[call-overload]  # dict rows
                    break
                await asyncio.sleep(0.1)
            try:
                await checkpointer.setup()
                await store.setup()
            finally:
                await lock.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
    except BaseException:
        await pool.close()
        raise
    return PostgresPersistence(pool, checkpointer, store)
