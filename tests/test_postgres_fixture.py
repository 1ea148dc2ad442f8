"""The temporary PostgreSQL server (tests/_postgres.py) and its fixtures: a server that works,
databases that keep tests apart, nothing left behind, and LangGraph's Postgres savers on it."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from tests._postgres import (
    DSN_ENV,
    PostgresUnavailable,
    database_dsn,
    find_binaries,
    temporary_postgres,
)
from tests._postgres_fixtures import fresh_database


def _own_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the cluster this module starts, not a STREAMTAP_PG_DSN server."""
    monkeypatch.delenv(DSN_ENV, raising=False)
    try:
        find_binaries()
    except PostgresUnavailable as e:
        pytest.skip(e.reason)


# --- the server ------------------------------------------------------------------------------
def test_a_table_written_is_read_back(postgres_db: str) -> None:
    with psycopg.connect(postgres_db) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes VALUES (1, 'héllo'), (2, 'world')")
        conn.commit()
    with psycopg.connect(postgres_db) as conn:
        rows = conn.execute("SELECT id, body FROM notes ORDER BY id").fetchall()
    assert rows == [(1, "héllo"), (2, "world")]


def test_the_temporary_server_listens_on_loopback_only(postgres_dsn: str) -> None:
    if os.environ.get(DSN_ENV):
        pytest.skip(f"{DSN_ENV} names the server")
    assert postgres_dsn.startswith("postgresql://postgres@127.0.0.1:")
    assert postgres_dsn.endswith("/streamtap")
    with psycopg.connect(postgres_dsn) as conn:
        settings = conn.execute(
            "SELECT current_setting('listen_addresses'), current_setting('fsync'), "
            "current_database()"
        ).fetchone()
    assert settings == ("127.0.0.1", "off", "streamtap")


# --- per-test databases ----------------------------------------------------------------------
def test_two_fresh_databases_do_not_share_tables(postgres_dsn: str) -> None:
    with fresh_database(postgres_dsn) as first, fresh_database(postgres_dsn) as second:
        assert first != second
        with psycopg.connect(first) as conn:
            conn.execute("CREATE TABLE only_here (x int)")
            conn.execute("INSERT INTO only_here VALUES (1)")
        with psycopg.connect(second) as conn:
            missing = conn.execute("SELECT to_regclass('only_here')").fetchone()
            assert missing == (None,)
            conn.execute("CREATE TABLE only_here (x int)")  # no clash either
            assert conn.execute("SELECT count(*) FROM only_here").fetchone() == (0,)
    with psycopg.connect(postgres_dsn) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert {first.rpartition("/")[2], second.rpartition("/")[2]}.isdisjoint(names)


_SEEN: list[str] = []


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_gets_its_own_database(postgres_db: str, postgres_dsn: str, turn: str) -> None:
    """Both turns make the same table: the second sees neither it nor the first database."""
    with psycopg.connect(postgres_db) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None
        conn.execute("CREATE TABLE shared_name (turn text)")
        conn.execute("INSERT INTO shared_name VALUES (%s)", [turn])
        assert conn.execute("SELECT turn FROM shared_name").fetchall() == [(turn,)]
    with psycopg.connect(postgres_dsn) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert name[0] in names
    assert names.isdisjoint(_SEEN), "an earlier test's database was not dropped"
    _SEEN.append(name[0])


def test_database_dsn_keeps_server_and_user() -> None:
    url = "postgresql://u:p@127.0.0.1:5433/old?sslmode=disable"
    assert database_dsn(url, "new") == "postgresql://u:p@127.0.0.1:5433/new?sslmode=disable"
    assert database_dsn("postgres://u@h", "new") == "postgres://u@h/new"
    assert database_dsn("host=h port=1 dbname=old", "new") == "host=h port=1 dbname=old dbname=new"
    params = psycopg.conninfo.conninfo_to_dict(database_dsn("host=h dbname=old", "new"))
    assert params["dbname"] == "new"


# --- the context manager ---------------------------------------------------------------------
def test_after_the_block_the_server_is_gone_and_so_is_its_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _own_server(monkeypatch)
    try:
        with temporary_postgres(database="other") as dsn:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT current_setting('data_directory')").fetchone()
            assert row is not None
            data = Path(row[0])
            postmaster = int((data / "postmaster.pid").read_text().split()[0])
            assert dsn.endswith("/other")
    except PostgresUnavailable as e:
        pytest.skip(e.reason)
    assert not data.parent.exists()
    assert not _alive(postmaster, data)


def test_a_server_whose_directory_was_deleted_under_it_is_still_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _own_server(monkeypatch)
    try:
        with temporary_postgres() as dsn:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT current_setting('data_directory')").fetchone()
            assert row is not None
            data = Path(row[0])
            postmaster = int((data / "postmaster.pid").read_text().split()[0])
            shutil.rmtree(data.parent)  # pg_ctl has nothing left to find it by
    except PostgresUnavailable as e:
        pytest.skip(e.reason)
    # The process, not the port: another test's server may take the freed port at once.
    assert not _alive(postmaster, data)


def _alive(pid: int, data: Path) -> bool:
    """A live process started on `data`: not gone, not a zombie, not a reused pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and os.fsencode(data) in cmdline


def test_the_environment_variable_names_the_server_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DSN_ENV, "postgresql://someone@127.0.0.1:1/elsewhere")
    monkeypatch.setenv("PATH", "")  # nothing may be started
    with temporary_postgres() as dsn:
        assert dsn == "postgresql://someone@127.0.0.1:1/elsewhere"


def _executable(path: Path, body: str = "exit 0") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_missing_binaries_are_a_stated_reason(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailable, match=r"initdb.*postgresql package"):
        find_binaries(search_path=str(tmp_path), root=tmp_path / "nothing")


def test_path_comes_first_then_the_highest_debian_version(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for version in ("9.6", "15", "16", "notaversion"):
        for name in ("initdb", "pg_ctl"):
            _executable(root / version / "bin" / name)
    _executable(root / "17" / "bin" / "initdb")  # no pg_ctl: not a usable version
    empty = tmp_path / "empty"
    empty.mkdir()
    found = find_binaries(search_path=str(empty), root=root)
    assert found.initdb == root / "16" / "bin" / "initdb"
    assert found.pg_ctl == root / "16" / "bin" / "pg_ctl"
    on_path = tmp_path / "path"
    for name in ("initdb", "pg_ctl"):
        _executable(on_path / name)
    assert find_binaries(search_path=str(on_path), root=root).initdb == on_path / "initdb"


def test_a_failed_start_raises_and_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    # A temporary root of this test's own (other runs may have clusters in /tmp) that an
    # unprivileged cluster user can reach and run the fake initdb from; tmp_path is root-only.
    own_root = Path(tempfile.mkdtemp(prefix="streamtap-pg-test-", dir="/tmp"))
    own_root.chmod(0o755)
    try:
        bindir = own_root / "bin"
        _executable(bindir / "initdb", "echo 'initdb: simulated failure' >&2; exit 3")
        _executable(bindir / "pg_ctl")
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setattr(tempfile, "tempdir", str(own_root))
        with (
            pytest.raises(PostgresUnavailable, match=r"initdb failed \(exit 3\).*simulated"),
            temporary_postgres(),
        ):
            pytest.fail("the block must not run")
        assert [p.name for p in own_root.iterdir()] == ["bin"]
    finally:
        shutil.rmtree(own_root, ignore_errors=True)


# --- LangGraph's savers on it ----------------------------------------------------------------
def _checkpoint(saver: BaseCheckpointSaver[Any]) -> tuple[Checkpoint, dict[str, Any]]:
    checkpoint = empty_checkpoint()
    version = saver.get_next_version(None, None)
    checkpoint["channel_values"] = {"messages": ["hi", {"role": "ai", "n": 2}], "count": 3}
    checkpoint["channel_versions"] = {"messages": version, "count": version}
    return checkpoint, {"messages": version, "count": version}


CONFIG: RunnableConfig = {"configurable": {"thread_id": "thread-1", "checkpoint_ns": ""}}


def test_postgres_saver_round_trips_a_checkpoint(postgres_db: str) -> None:
    with PostgresSaver.from_conn_string(postgres_db) as saver:
        saver.setup()
        checkpoint, versions = _checkpoint(saver)
        saved = saver.put(CONFIG, checkpoint, {"source": "input", "step": -1}, versions)
        got = saver.get_tuple(saved)
        assert got is not None
        assert got.checkpoint["id"] == checkpoint["id"]
        assert got.checkpoint["channel_values"] == checkpoint["channel_values"]
        assert got.metadata["step"] == -1
        latest = saver.get_tuple(CONFIG)
        assert latest is not None and latest.checkpoint["id"] == checkpoint["id"]
        assert [t.checkpoint["id"] for t in saver.list(CONFIG)] == [checkpoint["id"]]


async def test_async_postgres_saver_round_trips_a_checkpoint(postgres_db: str) -> None:
    async with AsyncPostgresSaver.from_conn_string(postgres_db) as saver:
        await saver.setup()
        checkpoint, versions = _checkpoint(saver)
        saved = await saver.aput(CONFIG, checkpoint, {"source": "loop", "step": 0}, versions)
        got = await saver.aget_tuple(saved)
        assert got is not None
        assert got.checkpoint["id"] == checkpoint["id"]
        assert got.checkpoint["channel_values"] == checkpoint["channel_values"]
        assert got.metadata["source"] == "loop"
