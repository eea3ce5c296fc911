"""A PostgreSQL server of the test's own (``initdb`` into a temporary folder), for tests that
restart or partition the database: never the machine's shared server on 127.0.0.1:5432.

The server runs as the ``postgres`` system user (``setpriv``) when the test runs as root (PostgreSQL refuses
to run as root), optionally inside a network namespace (``netns``), listening on one address
with trust authentication for ``trust_net``. Its own process only: :meth:`stop` and
:meth:`restart` signal the postmaster by the pid this object started.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

#: seconds a start or stop may take on a loaded machine
PG_TIMEOUT = 90.0


def pg_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def unavailable_reason() -> str | None:
    """Why an own PostgreSQL cannot be started here (None: it can)."""
    if pg_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "running as root without setpriv (PostgreSQL refuses to run as root)"
    return None


class OwnPostgres:
    """``initdb`` + ``postgres`` in ``root`` (a fresh folder), listening on ``host:port``."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, *,
                 netns: str | None = None, trust_net: str | None = None) -> None:
        binary = pg_bin()
        assert binary is not None, unavailable_reason()
        self.bin, self.host, self.netns = binary, host, netns
        # a namespace has its own ports: the default one is free there
        self.port = port or (5432 if netns else _free_port(host))
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)  # the postgres user must reach its folders
        self.data, self.sockets = root / "pgdata", root / "pgsock"
        self.log = root / "postgres.log"
        self.sockets.mkdir(exist_ok=True)
        self._as_user = os.geteuid() == 0
        if self._as_user:
            shutil.chown(self.sockets, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--no-sync"], timeout=PG_TIMEOUT)
        conf = self.data / "postgresql.conf"
        # fsync and full-page writes off: fast, and a process crash (the soak's "immediate"
        # restart) leaves the OS's page cache intact. Commits stay synchronous: an
        # acknowledged commit must survive that crash, as the store relies on
        # (tests/soak/test_regression_pg_restart_keeps_commits.py).
        conf.write_text(conf.read_text() + (
            f"\nlisten_addresses = '{host}'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.sockets}'\nfsync = off\n"
            "synchronous_commit = on\nfull_page_writes = off\nmax_connections = 200\n"
            "shared_buffers = 32MB\n"))
        if trust_net:
            hba = self.data / "pg_hba.conf"
            hba.write_text(hba.read_text() + f"\nhost all all {trust_net} trust\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()
        self.admin("CREATE DATABASE cirahub")

    # --- processes ------------------------------------------------------------------------

    def _command(self, argv: list[str]) -> list[str]:
        if self._as_user:  # setpriv execs (no parent left between us and postgres' signals)
            argv = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--clear-groups",
                    *argv]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        return argv

    def _run(self, argv: list[str], timeout: float) -> None:
        if self._as_user:
            self.data.mkdir(mode=0o700, exist_ok=True)
            shutil.chown(self.data, "postgres", "postgres")
        done = subprocess.run(self._command(argv), capture_output=True, timeout=timeout)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]

    def start(self) -> None:
        """Start the postmaster and wait until it accepts connections."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self._command([str(self.bin / "postgres"), "-D", str(self.data)]),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + PG_TIMEOUT
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        engine = create_engine(self.url("postgres"), poolclass=NullPool,
                               connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False
        finally:
            engine.dispose()

    def stop(self, mode: str = "fast") -> None:
        """Stop the postmaster (``fast``: SIGINT, ``immediate``: SIGQUIT, a crash-like stop)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
        try:
            proc.wait(PG_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    # --- SQL ------------------------------------------------------------------------------

    def url(self, database: str = "cirahub") -> str:
        return f"postgresql+psycopg2://postgres@{self.host}:{self.port}/{database}"

    def engine(self, database: str = "postgres") -> Engine:
        return create_engine(self.url(database), poolclass=NullPool,
                             isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})

    def admin(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        engine = self.engine(database)
        try:
            with engine.connect() as conn:
                result = conn.execute(text(sql))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def terminate_backends(self, database: str = "cirahub") -> int:
        """``pg_terminate_backend`` on every client connection to ``database``; how many."""
        rows = self.admin(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
        return int(rows[0][0])  # type: ignore[call-overload]


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host if host != "0.0.0.0" else "127.0.0.1", 0))
        return int(s.getsockname()[1])
