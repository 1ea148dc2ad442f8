"""A throw-away PostgreSQL server for the tests and the conformance harness.

Postgres-backed code (LangGraph's ``PostgresSaver`` on streamtap.graph) is only worth testing
against a real server, and a developer machine or CI runner has Debian's ``postgresql``
package at best, no Docker. So the cluster is made on the spot: ``initdb`` into a temporary
directory, ``pg_ctl`` on a free loopback port, stopped and deleted afterwards, nothing of the
machine's own clusters touched. It is plain Python (no pytest) so ``conformance/run.py`` can
use it too.

``STREAMTAP_PG_DSN`` names a server to use instead (a CI service container, say).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

DSN_ENV = "STREAMTAP_PG_DSN"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
# initdb refuses to run as root. The Debian package's own account exists wherever its binaries
# do; ``nobody`` exists on any Debian; a system account is made only when both are missing.
CLUSTER_USERS = ("postgres", "nobody")
FALLBACK_USER = "streamtap-pg"
# A unix socket path longer than this does not fit in sockaddr_un.
_MAX_SOCKET_PATH = 107
_START_ATTEMPTS = 3  # another process may take the free port between probing and binding
_WAIT_SECONDS = 30


class PostgresUnavailable(Exception):
    """No server could be had; callers skip (pytest) or run without Postgres (conformance)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Binaries(NamedTuple):
    initdb: Path
    pg_ctl: Path


def _version_key(name: str) -> tuple[int, ...] | None:
    parts = name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def find_binaries(search_path: str | None = None, root: Path = DEBIAN_ROOT) -> Binaries:
    """initdb and pg_ctl of one PostgreSQL version.

    Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<version>/bin, so PATH
    (an explicit choice) wins and the highest installed version comes next. Both come from one
    directory where possible: a data directory only starts under its own version's server.
    """
    initdb = shutil.which("initdb", path=search_path)
    if initdb is not None:
        sibling = Path(initdb).resolve().parent / "pg_ctl"
        pg_ctl = str(sibling) if os.access(sibling, os.X_OK) else None
        pg_ctl = pg_ctl or shutil.which("pg_ctl", path=search_path)
        if pg_ctl is not None:
            return Binaries(Path(initdb).resolve(), Path(pg_ctl).resolve())
    versions: list[tuple[tuple[int, ...], Path]] = []
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            key = _version_key(entry.name)
            bindir = entry / "bin"
            if key is not None and all(os.access(bindir / b, os.X_OK) for b in Binaries._fields):
                versions.append((key, bindir))
    if versions:
        bindir = max(versions)[1]
        return Binaries(bindir / "initdb", bindir / "pg_ctl")
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) are neither on PATH nor in {root}/*/bin; "
        "install Debian's postgresql package (make system-deps) or set " + DSN_ENV
    )


def database_dsn(dsn: str, database: str) -> str:
    """The same server and user, another database: per-test databases keep tests apart."""
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path=f"/{database}"))
    return f"{dsn} dbname={database}"  # libpq: a repeated keyword's last value wins


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_user() -> pwd.struct_passwd:
    for name in CLUSTER_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(FALLBACK_USER)
    useradd = shutil.which("useradd")
    if useradd is not None:
        cmd = [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run([*cmd, FALLBACK_USER], capture_output=True, timeout=30, check=False)
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(FALLBACK_USER)
    raise PostgresUnavailable(
        f"running as root, and no unprivileged user for initdb: none of "
        f"{', '.join(CLUSTER_USERS)} exists and `useradd --system {FALLBACK_USER}` failed"
    )


def _drop_privileges(user: pwd.struct_passwd) -> list[str]:
    """The command prefix that runs a program as ``user``.

    setpriv only switches ids and execs, where runuser opens a PAM session, which a minimal
    container may lack.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
        return [setpriv, *ids, "--"]
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", user.pw_name, "--"]
    raise PostgresUnavailable("running as root, and neither setpriv nor runuser (util-linux)")


def _reachable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _make_directory(user: pwd.struct_passwd | None) -> Path:
    """A fresh directory the cluster's user owns, on a path that user can walk.

    A root-only TMPDIR (under /root, say) would hide it from the unprivileged user; /tmp is
    the fallback.
    """
    if user is None:
        return Path(tempfile.mkdtemp(prefix="streamtap-pg-"))
    for base in dict.fromkeys([Path(tempfile.gettempdir()).resolve(), Path("/tmp")]):
        if base.is_dir() and _reachable_by_others(base):
            directory = Path(tempfile.mkdtemp(prefix="streamtap-pg-", dir=base))
            os.chown(directory, user.pw_uid, user.pw_gid)
            return directory
    raise PostgresUnavailable(f"no temporary directory that {user.pw_name} can reach")


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class _Cluster:
    def __init__(self, binaries: Binaries, directory: Path, user: pwd.struct_passwd | None):
        self.binaries = binaries
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.prefix = _drop_privileges(user) if user is not None else []
        self.postmaster: int | None = None
        # Clients' PG* variables (PGDATA, PGPORT, ...) must not steer this cluster.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(LC_ALL="C", LANG="C")

    def run(self, *args: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
        cmd = [*self.prefix, *map(str, args)]
        try:
            return subprocess.run(
                cmd,
                cwd=self.directory,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise PostgresUnavailable(f"{Path(cmd[len(self.prefix)]).name} hung: {e}") from e
        except OSError as e:
            raise PostgresUnavailable(f"could not run {cmd}: {e}") from e

    def initdb(self) -> None:
        done = self.run(
            *(self.binaries.initdb, "-D", self.data, "-U", SUPERUSER, "--auth=trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync"),
            timeout=120,
        )
        if done.returncode != 0:
            output = _tail(done.stdout + done.stderr)
            raise PostgresUnavailable(f"initdb failed (exit {done.returncode}): {output}")
        sockets = str(self.directory) if len(str(self.directory)) + 15 <= _MAX_SOCKET_PATH else ""
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": sockets,  # "" = TCP only, never /var/run/postgresql
            # throw-away data: durability costs time and buys nothing
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# streamtap tests/_postgres.py\n")
            for key, value in settings.items():
                quoted = value.replace("'", "''")
                conf.write(f"{key} = '{quoted}'\n")

    def start(self) -> int:
        reason = ""
        for _ in range(_START_ATTEMPTS):
            port = _free_port()
            offset = self.log.stat().st_size if self.log.exists() else 0
            done = self.run(
                *(self.binaries.pg_ctl, "start", "-D", self.data, "-l", self.log),
                *("-w", "-t", str(_WAIT_SECONDS), "-o", f"-p {port}"),
                timeout=_WAIT_SECONDS + 15,
            )
            self.postmaster = self._pidfile_pid() or self.postmaster
            if done.returncode == 0:
                return port
            log = self.log.read_text(errors="replace")[offset:] if self.log.exists() else ""
            reason = f"pg_ctl start failed (exit {done.returncode}): {_tail(done.stderr + log)}"
            if "could not bind" not in log and "already in use" not in log:
                break
            self.stop()
        raise PostgresUnavailable(reason)

    def _pidfile_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _running(self, pid: int) -> bool:
        """Still this cluster's postmaster: neither a zombie awaiting its reaper nor a reused pid."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z" and os.fsencode(self.data) in cmdline

    def stop(self) -> None:
        """Bounded: an immediate stop, then SIGKILL for a postmaster that outlives it.

        The pid remembered at start covers a data directory deleted under a running server,
        which pg_ctl can no longer stop.
        """
        pid = self._pidfile_pid() or self.postmaster
        if pid is None:
            return
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable):
                self.run(
                    *(self.binaries.pg_ctl, "stop", "-D", self.data, "-m", "immediate"),
                    *("-w", "-t", str(_WAIT_SECONDS)),
                    timeout=_WAIT_SECONDS + 15,
                )
        if self._running(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self._running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.postmaster = None


def _create_database(admin_dsn: str, database: str) -> None:
    try:
        import psycopg
        from psycopg import sql
    except ImportError as e:
        raise PostgresUnavailable(f"psycopg is not installed (streamtap[postgres]): {e}") from e
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.Error as e:
        raise PostgresUnavailable(f"the new server refused CREATE DATABASE: {e}") from e


@contextmanager
def temporary_postgres(database: str = "streamtap") -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/<database>`` of a server that lives in the block.

    Trust authentication is enough: the cluster listens on 127.0.0.1 only, on a random port,
    and is deleted with its data at the end, on success and on failure alike.
    Raises PostgresUnavailable with the reason when no server can be had.
    """
    override = os.environ.get(DSN_ENV)
    if override:
        yield override
        return
    binaries = find_binaries()
    user = _cluster_user() if os.geteuid() == 0 else None
    directory = _make_directory(user)
    cluster: _Cluster | None = None
    try:
        cluster = _Cluster(binaries, directory, user)
        cluster.initdb()
        port = cluster.start()
        _create_database(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres", database)
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
