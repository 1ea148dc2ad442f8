"""``postgres_dsn`` and ``postgres_db``: a real PostgreSQL server for any test under tests/.

One server per session (starting one costs about a second); one database per test, so a
test's tables, and LangGraph's checkpoint tables after ``setup()``, are never another test's.
Registered in tests/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests._postgres import PostgresUnavailable, database_dsn, temporary_postgres


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The session's server (or STREAMTAP_PG_DSN's); the tests that need it skip without one."""
    with ExitStack() as stack:
        try:
            dsn = stack.enter_context(temporary_postgres())
        except PostgresUnavailable as e:
            pytest.skip(f"no PostgreSQL server: {e.reason}")
        yield dsn


@contextmanager
def fresh_database(server_dsn: str) -> Iterator[str]:
    """A database of its own on ``server_dsn``'s server, dropped afterwards, open sessions or not."""
    import psycopg
    from psycopg import sql

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_dsn(server_dsn, name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


@pytest.fixture
def postgres_db(postgres_dsn: str) -> Iterator[str]:
    """The DSN of a database created for this test alone."""
    with fresh_database(postgres_dsn) as dsn:
        yield dsn
