"""Replaces LangGraph's tests/conftest.py in the conformance run (copied by conformance/run.py).

The same fixture names and parameter ids as LangGraph's, with streamtap's savers where
streamtap has its own (memory, SQLite). Postgres parameters exist only when STREAMTAP_PG_DSN
is set; they use langgraph-checkpoint-postgres, the saver such users keep. Each test's outcome
is appended to $CONFORMANCE_RESULTS as a JSON line, so a file killed by its timeout still
reports the tests that finished; $CONFORMANCE_TIMEOUT bounds every test (SIGALRM).
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from _conformance_support import Mocker

from streamtap.graph import AsyncSqliteSaver, InMemorySaver, SqliteSaver

PG_DSN = os.environ.get("STREAMTAP_PG_DSN")
NO_DOCKER = PG_DSN is None
RESULTS = os.environ.get("CONFORMANCE_RESULTS")
TIMEOUT = float(os.environ.get("CONFORMANCE_TIMEOUT", "60"))


class ConformanceTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise ConformanceTimeout(f"test exceeded the per-test timeout of {TIMEOUT:g}s")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _record(entry: dict[str, Any]) -> None:
    if RESULTS:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple):  # skips: (path, line, reason)
        return str(report.longrepr[2])
    return str(report.longrepr)[-2000:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.passed and report.when != "call":
        return
    outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
    _record(
        {
            "id": report.nodeid,
            "when": report.when,
            "outcome": outcome,
            "message": "" if report.passed else _message(report),
            "duration": round(report.duration, 3),
        }
    )


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _record(
            {
                "id": report.nodeid,
                "when": "collect",
                "outcome": "failed",
                "message": _message(report),
            }
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests the harness's scope rules put out of scope."""
    path = os.environ.get("CONFORMANCE_EXCLUDED")
    if not path:
        return
    with open(path, encoding="utf-8") as f:
        excluded = set(json.load(f))
    keep, drop = [], []
    for item in items:
        file = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        test = item.nodeid.split("::", 1)[1].split("[", 1)[0]
        (drop if f"{file}::{test}" in excluded else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- pytest-mock's ``mocker``, the part LangGraph's tests use -----------------------------
@pytest.fixture
def mocker() -> Iterator[Mocker]:
    m = Mocker()
    yield m
    m.stopall()


# --- LangGraph's fixtures ------------------------------------------------------------------
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture()
def deterministic_uuids(mocker: Mocker) -> Any:
    side_effect = (UUID(f"00000000-0000-4000-8000-{i:012}", version=4) for i in range(10000))
    return mocker.patch("uuid.uuid4", side_effect=side_effect)


@pytest.fixture(params=["sync", "async", "exit"])
def durability(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["memory"])  # LangGraph's "sqlite" cache needs langgraph-checkpoint-sqlite
def cache(request: pytest.FixtureRequest) -> Any:
    from langgraph.cache.memory import InMemoryCache

    return InMemoryCache()


@pytest.fixture(params=["in_memory"])
def sync_store(request: pytest.FixtureRequest) -> Any:
    from langgraph.store.memory import InMemoryStore

    return InMemoryStore()


@pytest.fixture(params=["in_memory"])
def async_store(request: pytest.FixtureRequest) -> Any:
    from langgraph.store.memory import InMemoryStore

    return InMemoryStore()


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A fresh database on the STREAMTAP_PG_DSN server, dropped afterwards.

    The DSN may be a URL with or without a database or query, or key=value pairs: libpq's own
    parser (make_conninfo) swaps the database.
    """
    import psycopg
    from psycopg.conninfo import make_conninfo

    assert PG_DSN is not None
    name = f"conformance_{uuid.uuid4().hex}"
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_conninfo(PG_DSN, dbname=name)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _postgres_saver() -> Iterator[Any]:
    from langgraph.checkpoint.postgres import PostgresSaver

    with _postgres_database() as dsn, PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()
        yield saver


async def _async_postgres_saver() -> AsyncIterator[Any]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    with _postgres_database() as dsn:
        async with AsyncPostgresSaver.from_conn_string(dsn) as saver:
            await saver.setup()
            yield saver


def _sqlite_saver() -> Iterator[Any]:
    with SqliteSaver.from_conn_string(":memory:") as saver:
        yield saver


@pytest.fixture(params=["memory", "sqlite"] + ([] if NO_DOCKER else ["postgres"]))
def sync_checkpointer(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
    elif request.param == "sqlite":
        yield from _sqlite_saver()
    else:
        yield from _postgres_saver()


@pytest.fixture(params=["memory", "sqlite_aio"] + ([] if NO_DOCKER else ["postgres_aio"]))
async def async_checkpointer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
    elif request.param == "sqlite_aio":
        async with AsyncSqliteSaver.from_conn_string(":memory:") as saver:
            yield saver
    else:
        async for saver in _async_postgres_saver():
            yield saver
