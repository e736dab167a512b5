"""A real PostgreSQL streaming replica of the test server, on loopback, for the tests of
read/write splitting (kefu.db.replica): ``pg_basebackup -R`` of the running cluster into a
temporary directory, started with ``pg_ctl`` on a free port as the ``postgres`` user (the
server the tests use runs as it: scripts/start_postgres.sh). One per test session."""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tests.ports import free_port

# The standby must allow at least what the primary does (hot standby refuses to start else).
COPIED = ("max_connections", "max_worker_processes", "max_wal_senders",
          "max_prepared_transactions", "max_locks_per_transaction")  # fmt: skip


def _as_postgres(command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``command`` as the postgres user; on a timeout its whole process group is killed (su
    leaves its child running otherwise)."""
    argv = ["sh", "-c", command]
    if os.geteuid() == 0:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", command]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def unavailable(primary_url: str) -> str | None:
    """Why a replica cannot be started here (None: it can)."""
    if not shutil.which("pg_basebackup") and not list(Path("/usr/lib/postgresql").glob("*/bin")):
        return "PostgreSQL's client programs (pg_basebackup, pg_ctl) are not installed"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user to run the replica as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "starting a replica needs root or the postgres user (the cluster's owner)"
    if urlsplit(primary_url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        return "the test server is not on this machine"
    return None


def _bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    for folder in reversed(versions):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    assert found, name
    return found


@dataclass
class Replica:
    primary_url: str
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url_for(self, primary_url: str) -> str:
        """The same user, password and database as ``primary_url``, on the replica."""
        parts = urlsplit(primary_url)
        auth = parts.netloc.rsplit("@", 1)[0]
        return urlunsplit((parts.scheme, f"{auth}@127.0.0.1:{self.port}", parts.path, "", ""))

    def create(self, settings: dict[str, str]) -> None:
        parts = urlsplit(self.primary_url)
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        # Through the local socket as postgres (peer authentication, the replication right);
        # -R writes standby.signal and primary_conninfo; -c fast: no wait for a checkpoint.
        done = _as_postgres(
            f"{_bin('pg_basebackup')} -h /var/run/postgresql -p {parts.port or 5432} "
            f"-D {shlex.quote(str(self.data))} -R -X stream -c fast",
            # The whole cluster is copied: seconds in CI; minutes on a busy shared server.
            timeout=900,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {done.stderr.strip()}")
        # Debian keeps the configuration out of the data directory: the standby gets its own.
        lines = [f"{k} = {v}" for k, v in settings.items()]
        lines += ["listen_addresses = '127.0.0.1'", f"port = {self.port}",
                  f"unix_socket_directories = '{self.folder}'", "hot_standby = on",
                  "fsync = off", "logging_collector = off"]  # fmt: skip
        config = "\n".join(lines) + "\n"
        hba = "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
        for name, text in (("postgresql.conf", config), ("pg_hba.conf", hba),
                           ("pg_ident.conf", "")):  # fmt: skip
            _as_postgres(f"cat > {shlex.quote(str(self.data / name))} <<'EOF'\n{text}EOF")

    def start(self) -> None:
        done = _as_postgres(
            f"{_bin('pg_ctl')} -D {shlex.quote(str(self.data))} -l "
            f"{shlex.quote(str(self.folder / 'replica.log'))} -w -t 120 start"
        )
        if done.returncode != 0:
            log = (self.folder / "replica.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the replica did not start: {done.stderr.strip()}\n{log}")

    def stop(self) -> None:
        _as_postgres(f"{_bin('pg_ctl')} -D {shlex.quote(str(self.data))} -m fast -w stop")

    async def caught_up(self, database_url: str, timeout: float = 60) -> None:
        """Waits until the replica has replayed everything the primary has written so far
        (a test's schema, its rows) and serves ``database_url``'s database."""
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        primary = await asyncpg.connect(dsn)
        try:
            target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        finally:
            await primary.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(self.url_for(dsn))
                try:
                    if await conn.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
                        return
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                pass  # its database not replayed yet, or still starting
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not catch up")
            await asyncio.sleep(0.1)


def start_replica(primary_url: str, folder: Path) -> Replica:
    async def primary_settings() -> dict[str, str]:
        conn = await asyncpg.connect(primary_url)
        try:
            rows = await conn.fetch("SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
                                    list(COPIED))  # fmt: skip
        finally:
            await conn.close()
        return {r["name"]: r["setting"] for r in rows}

    replica = Replica(primary_url, folder, free_port())
    replica.create(asyncio.run(primary_settings()))
    replica.start()
    return replica
