"""Assistants in Postgres, so every server process behind a load balancer sees the same
ones: what one process creates, updates or deletes, the next request to another finds.

The rules of an update and of ``set_latest`` are ``_assistants_store``'s own functions
(``revise``, ``restore``), applied to the assistant's row read ``FOR UPDATE``: two
processes updating one assistant take turns, so they make versions N+1 and N+2, never
N+1 twice. Timestamps are the ISO strings those rules made, stored as text, so this store
answers with exactly the strings the in-process one would.

``config``, ``context``, ``metadata``, ``name`` and ``description`` are ``json`` columns,
which keep the text they were given, so they read back as they were written (jsonb would
reorder keys and refuse a ``"\\u0000"``, a text column a NUL). An id with a NUL cannot be
stored, so no assistant has one: looking one up answers "unknown" without asking.

Search filters a name and metadata in Python, with the in-process store's own tests
(``contains``), not with ``ILIKE`` and jsonb's ``@>``: ``@>`` finds ``[1]`` inside
``[1, 2]`` where ``contains`` asks for equal lists, and Postgres folds case by its
collation, not as Python's ``str.lower`` does. Only ``graph_id`` (plain equality) is left
to SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from streamtap.server._assistants_store import (
    Assistant,
    AssistantExists,
    AssistantStore,
    contains,
    restore,
    revise,
    system_assistants,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresAssistantStore"]

_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "description",
    "version",
    "created_at",
    "updated_at",
)
#: a version record has no updated_at: it is never changed once made
_VERSION_FIELDS = _FIELDS[:-1]
#: stored as json, which keeps whatever JSON text it is given (``_pg_schema``, migration 2)
_JSON_FIELDS = frozenset({"config", "context", "metadata", "name", "description"})

_SELECT = ", ".join(_FIELDS)
_SELECT_VERSION = ", ".join(_VERSION_FIELDS)
# every field but the key, as an UPDATE's target list and its placeholders
_SET = f"({', '.join(_FIELDS[1:])}) = ({', '.join(['%s'] * (len(_FIELDS) - 1))})"

#: ``pg_advisory_xact_lock`` key of ``serve`` ("streamtap" in ASCII, last byte + 1: the
#: migrations' key is taken)
_SERVE_LOCK = 0x73747265616D7462


class PostgresAssistantStore(AssistantStore):
    """The assistants in the tables of migration 2 (``_pg_schema``), over a psycopg
    ``AsyncConnectionPool`` of autocommit connections whose schema the caller migrated.

    Nothing is cached in the process: every call reads or writes the database, so each
    process answers as the others do. :meth:`serve` registers the served graphs' system
    assistants (the in-process store's ``serving``)."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self.pool = pool

    async def serve(self, graphs: Iterable[tuple[str, str]]) -> None:
        """Add the system assistant of each served ``(graph_id, assistant_id)`` that is
        not there. Processes starting together take turns under an advisory lock: the
        first adds them all, with one ``created_at`` and in the served order (a search's
        order among them); the others find them there. An existing one is kept as it is,
        updates and all; a deleted one comes back."""
        wanted = system_assistants(graphs)
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SERVE_LOCK,))
            for assistant in wanted:
                await _insert(conn, assistant)

    async def get(self, assistant_id: str) -> Assistant | None:
        if not _storable(assistant_id):
            return None
        async with self.pool.connection() as conn:
            return await _latest(conn, assistant_id)

    async def create(
        self, assistant: Assistant, *, if_exists: Literal["raise", "do_nothing"]
    ) -> Assistant:
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                made = await _insert(conn, assistant)
                if made is not None:
                    return made
                if if_exists == "raise":
                    raise AssistantExists(assistant["assistant_id"])
                existing = await _latest(conn, assistant["assistant_id"])
                if existing is not None:
                    return existing
            # deleted between the insert and the read: the id is free again

    async def update(self, assistant_id: str, changes: Mapping[str, Any]) -> Assistant | None:
        if not _storable(assistant_id):
            return None
        async with self.pool.connection() as conn, conn.transaction():
            current = await _latest(conn, assistant_id, lock=True)
            if current is None:
                return None
            cur = await conn.execute(
                "SELECT max(version) FROM streamtap_assistant_versions WHERE assistant_id = %s",
                (assistant_id,),
            )
            row = await cur.fetchone()
            highest = int(row[0]) if row and row[0] is not None else current["version"]
            # the highest version + 1, not the latest + 1: after set_latest(1), an update is v3
            new, record = revise(current, changes, highest + 1)
            await _insert_version(conn, record)
            return await _replace(conn, new)

    async def delete(self, assistant_id: str) -> bool:
        if not _storable(assistant_id):
            return False
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM streamtap_assistants WHERE assistant_id = %s RETURNING 1",
                (assistant_id,),
            )
            return await cur.fetchone() is not None

    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Assistant]:
        if graph_id is not None and not _storable(graph_id):
            return []
        query = f"SELECT {_SELECT} FROM streamtap_assistants"
        params: tuple[Any, ...] = ()
        if graph_id is not None:
            query += " WHERE graph_id = %s"
            params = (graph_id,)
        async with self.pool.connection() as conn:
            cur = await conn.execute(query + " ORDER BY seq", params)
            rows = await cur.fetchall()
        needle = name.lower() if name else None
        found = (_record(_FIELDS, row) for row in rows)
        return [
            a
            for a in found
            if (needle is None or needle in str(a["name"]).lower())
            and (not metadata or contains(a["metadata"], metadata))
        ]

    async def versions(self, assistant_id: str) -> list[Assistant] | None:
        if not _storable(assistant_id):
            return None
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_SELECT_VERSION} FROM streamtap_assistant_versions"
                " WHERE assistant_id = %s ORDER BY version",
                (assistant_id,),
            )
            rows = await cur.fetchall()
        # an assistant has at least the version it was created with
        return [_record(_VERSION_FIELDS, row) for row in rows] or None

    async def set_latest(self, assistant_id: str, version: int) -> Assistant | None:
        if not _storable(assistant_id):
            return None
        async with self.pool.connection() as conn, conn.transaction():
            current = await _latest(conn, assistant_id, lock=True)
            if current is None:
                return None
            cur = await conn.execute(
                f"SELECT {_SELECT_VERSION} FROM streamtap_assistant_versions"
                " WHERE assistant_id = %s AND version = %s",
                (assistant_id, version),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            return await _replace(conn, restore(current, _record(_VERSION_FIELDS, row)))


def _storable(key: str) -> bool:
    """Whether a text column can hold ``key`` (Postgres refuses a NUL in text)."""
    return "\x00" not in key


def _record(fields: Sequence[str], row: Sequence[Any]) -> Assistant:
    return dict(zip(fields, row, strict=True))


def _values(record: Mapping[str, Any], fields: Sequence[str]) -> list[Any]:
    from psycopg.types.json import Json

    return [Json(record[f]) if f in _JSON_FIELDS else record[f] for f in fields]


async def _latest(
    conn: AsyncConnection[Any], assistant_id: str, *, lock: bool = False
) -> Assistant | None:
    cur = await conn.execute(
        f"SELECT {_SELECT} FROM streamtap_assistants WHERE assistant_id = %s"
        + (" FOR UPDATE" if lock else ""),
        (assistant_id,),
    )
    row = await cur.fetchone()
    return None if row is None else _record(_FIELDS, row)


async def _insert(conn: AsyncConnection[Any], assistant: Mapping[str, Any]) -> Assistant | None:
    """``assistant`` and its first version record; ``None`` (nothing written) when its id
    is taken. Waits for a transaction inserting the same id, so of two creates one wins."""
    cur = await conn.execute(
        f"INSERT INTO streamtap_assistants ({_SELECT})"
        f" VALUES ({', '.join(['%s'] * len(_FIELDS))})"
        f" ON CONFLICT (assistant_id) DO NOTHING RETURNING {_SELECT}",
        _values(assistant, _FIELDS),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await _insert_version(conn, assistant)
    return _record(_FIELDS, row)


async def _insert_version(conn: AsyncConnection[Any], record: Mapping[str, Any]) -> None:
    await conn.execute(
        f"INSERT INTO streamtap_assistant_versions ({_SELECT_VERSION})"
        f" VALUES ({', '.join(['%s'] * len(_VERSION_FIELDS))})",
        _values(record, _VERSION_FIELDS),
    )


async def _replace(conn: AsyncConnection[Any], assistant: Mapping[str, Any]) -> Assistant:
    """The assistant's row made ``assistant`` (the caller holds it ``FOR UPDATE``)."""
    cur = await conn.execute(
        f"UPDATE streamtap_assistants SET {_SET} WHERE assistant_id = %s RETURNING {_SELECT}",
        [*_values(assistant, _FIELDS[1:]), assistant["assistant_id"]],
    )
    row = await cur.fetchone()
    if row is None:  # the lock held it: it cannot have gone
        raise RuntimeError(f"assistant {assistant['assistant_id']} vanished under its lock")
    return _record(_FIELDS, row)
