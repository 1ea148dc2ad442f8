"""The server's own tables in Postgres, created and upgraded at start-up.

Several server processes start at once behind a load balancer, so the migrations run in
one transaction under a transaction-level advisory lock: the first process applies them,
the others wait for it and then find nothing left to do. Postgres DDL is transactional,
so a migration that fails leaves the schema as it was. Checkpoints and the store are not
here: LangGraph's own ``PostgresSaver`` / ``PostgresStore`` keep them in their tables.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MIGRATIONS", "migrate", "schema_version"]

#: ``pg_advisory_xact_lock`` key of the migrations (any constant: "streamtap" in ASCII)
_LOCK = 0x73747265616D7461

#: version -> statements, applied in order; a released version is never edited, a change is
#: a new version
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE streamtap_threads (
            thread_id text PRIMARY KEY,
            metadata jsonb NOT NULL DEFAULT '{}',
            status text NOT NULL DEFAULT 'idle',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        # seq: admission order (a thread's runs take their turns in it); attempts: how
        # many executions started; retries: how many more a lost worker's run may get
        # (0 when its graph has no checkpointer to resume from); worker / lease_until:
        # who runs it and until when, unless the lease is renewed; cancel: the action a
        # client asked for while it ran
        """
        CREATE TABLE streamtap_runs (
            run_id text PRIMARY KEY,
            seq bigserial NOT NULL UNIQUE,
            thread_id text,
            assistant_id text NOT NULL,
            graph_id text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            kwargs jsonb NOT NULL DEFAULT '{}',
            metadata jsonb NOT NULL DEFAULT '{}',
            multitask_strategy text NOT NULL DEFAULT 'enqueue',
            attempts integer NOT NULL DEFAULT 0,
            retries integer NOT NULL DEFAULT 0,
            worker text,
            lease_until timestamptz,
            cancel text,
            error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        # the invariant itself, whatever a process does: one running run per thread
        """
        CREATE UNIQUE INDEX streamtap_runs_one_running ON streamtap_runs (thread_id)
            WHERE status = 'running' AND thread_id IS NOT NULL
        """,
        "CREATE INDEX streamtap_runs_pending ON streamtap_runs (seq) WHERE status = 'pending'",
        "CREATE INDEX streamtap_runs_by_thread ON streamtap_runs (thread_id, seq)",
        """
        CREATE INDEX streamtap_runs_leases ON streamtap_runs (lease_until)
            WHERE status = 'running'
        """,
    ),
    2: (
        # each assistant at its latest version (``_pg_assistants``). seq: creation order,
        # which a search keeps (assistants created at once, as the served graphs' are, tie
        # on created_at); created_at / updated_at: the ISO strings the store's rules made,
        # kept as text so either store answers with the same ones. config / context /
        # metadata are json, not jsonb: json keeps the text it was given (key order, 1e+20
        # as a float, "\u0000" in a string: jsonb reorders, makes 1e+20 an integer, refuses
        # "\u0000"), and nothing here filters them in SQL. name / description too: a text
        # column refuses a NUL a client may put in them
        """
        CREATE TABLE streamtap_assistants (
            assistant_id text PRIMARY KEY,
            seq bigserial NOT NULL,
            graph_id text NOT NULL,
            config json NOT NULL,
            context json NOT NULL,
            metadata json NOT NULL,
            name json NOT NULL,
            description json NOT NULL,
            version integer NOT NULL,
            created_at text NOT NULL,
            updated_at text NOT NULL
        )
        """,
        "CREATE INDEX streamtap_assistants_by_graph ON streamtap_assistants (graph_id)",
        # every version of each, the latest included; they go with their assistant
        """
        CREATE TABLE streamtap_assistant_versions (
            assistant_id text NOT NULL
                REFERENCES streamtap_assistants (assistant_id) ON DELETE CASCADE,
            version integer NOT NULL,
            graph_id text NOT NULL,
            config json NOT NULL,
            context json NOT NULL,
            metadata json NOT NULL,
            name json NOT NULL,
            description json NOT NULL,
            created_at text NOT NULL,
            PRIMARY KEY (assistant_id, version)
        )
        """,
    ),
}


async def schema_version(conn: Any) -> int:
    """The newest migration applied (0 on an empty database)."""
    cur = await conn.execute("SELECT to_regclass('streamtap_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM streamtap_migrations")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: Any) -> list[int]:
    """Apply the migrations this database lacks; returns their versions (none: up to date).

    ``conn`` is a psycopg ``AsyncConnection`` outside any transaction: the work is one
    transaction of its own, which ends (and releases the lock) when this returns."""
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "migrate() needs a connection outside a transaction (autocommit=True, or "
            "commit first): inside one, its lock would be held until that one ends"
        )
    newest = max(MIGRATIONS)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS streamtap_migrations ("
            " version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = await schema_version(conn)
        if current > newest:
            raise RuntimeError(
                f"the database's streamtap schema is version {current}, newer than this "
                f"streamtap's ({newest}): upgrade streamtap, or point it at another database"
            )
        applied = []
        for version in range(current + 1, newest + 1):
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO streamtap_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied
