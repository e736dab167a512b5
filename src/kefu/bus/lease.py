"""Leases: one holder at a time of a named job among every process that could run it, so
several copies of ``kefu run workers`` (on one machine or many) run the background loops one
at a time and a standby takes over when the active copy dies.

Each engine kefu already has provides one, so no engine is added for it:

- Redis (``KEFU_BUS_URL``): ``SET key holder NX PX ttl``, renewed by the holder every few
  seconds with a compare-and-expire script; a holder that dies loses it after ``ttl``.
- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) held on a connection of its
  own; the server releases it the moment that connection drops (the process died).
- SQLite: an exclusive ``flock`` on a file beside the database; the kernel releases it when
  the process dies. (An in-memory database lives in one process: the lease is always granted.)

``acquire`` is called again and again by the holder: it renews and says whether the lease is
still held. A holder that finds it lost stops its jobs (``kefu.runtime.Singleton``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import uuid
from pathlib import Path
from typing import Any, Protocol

from kefu.logs import get_logger

log = get_logger(__name__)

DEFAULT_TTL = 15.0  # seconds a silent Redis holder keeps the lease: the takeover time


class Lease(Protocol):
    name: str
    holder: str

    async def acquire(self) -> bool:
        """Takes the lease, or renews it when held; whether this process holds it now."""
        ...

    async def release(self) -> None: ...


def holder_name() -> str:
    """Who holds a lease, readable by an operator: host, process id and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# KEYS[1] the lease; ARGV holder, ttl in ms. Renew only our own lease (never another's).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    def __init__(self, url: str, name: str, *, ttl: float = DEFAULT_TTL) -> None:
        from redis import asyncio as aioredis

        self.name, self.holder, self.ttl = name, holder_name(), ttl
        self.redis = aioredis.Redis.from_url(url, socket_timeout=ttl / 3)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    @property
    def key(self) -> str:
        return f"kefu:lease:{self.name}"

    async def acquire(self) -> bool:
        from redis.exceptions import RedisError

        try:
            got = await self._renew(keys=[self.key], args=[self.holder, int(self.ttl * 1000)])
        except RedisError as exc:  # Redis away: nobody can prove they hold it, so we do not
            log.warning("lease_unreachable", lease=self.name, error=str(exc))
            return False
        return bool(int(got))

    async def holder_now(self) -> str | None:
        raw = await self.redis.get(self.key)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await self._release(keys=[self.key], args=[self.holder])
        await self.redis.aclose()


class PostgresLease:
    """A session advisory lock on a connection of this lease's own (not the app's pool: a
    pooled connection goes back to the pool and would carry the lock with it). On MySQL /
    MariaDB the same with a named lock (GET_LOCK), which is also the session's."""

    def __init__(self, database_url: str, name: str) -> None:
        self.name, self.holder = name, holder_name()
        self.database_url = database_url
        # A stable signed 64-bit key from the name (advisory locks are keyed by bigint).
        digest = hashlib.blake2b(f"kefu:{name}".encode(), digest_size=8).digest()
        self.key: int | str = int.from_bytes(digest, "big", signed=True)
        self._lock, self._unlock = (
            "SELECT pg_try_advisory_lock(:k)",
            "SELECT pg_advisory_unlock(:k)",
        )
        if database_url.startswith(("mysql", "mariadb")):
            self.key = f"kefu:lease:{digest.hex()}"  # a lock name is at most 64 characters
            self._lock, self._unlock = "SELECT GET_LOCK(:k, 0)", "SELECT RELEASE_LOCK(:k)"
        self._engine: Any = None
        self._conn: Any = None

    async def acquire(self) -> bool:
        from sqlalchemy import text

        try:
            if self._conn is not None:  # held: renewing is proving the connection lives
                await self._conn.execute(text("SELECT 1"))
                return True
            if self._engine is None:
                from sqlalchemy.ext.asyncio import create_async_engine

                from kefu.config import normalise_database_url

                url = normalise_database_url(self.database_url)
                self._engine = create_async_engine(url, pool_size=1, max_overflow=0)
            conn = await self._engine.connect()
            got = await conn.scalar(text(self._lock), {"k": self.key})
            await conn.commit()  # the lock is the session's, not the transaction's
            if got:
                self._conn = conn
                return True
            await conn.close()
            return False
        except Exception as exc:  # noqa: BLE001 - the database away: not held (the lock died)
            log.warning("lease_unreachable", lease=self.name, error=str(exc))
            await self._drop()
            return False

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # never back to a pool with the lock on it

    async def release(self) -> None:
        from sqlalchemy import text

        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.execute(text(self._unlock), {"k": self.key})
                await self._conn.close()
            self._conn = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


class FileLease:
    """An exclusive ``flock`` on ``path`` (SQLite: the processes share one machine)."""

    def __init__(self, path: Path, name: str) -> None:
        self.name, self.holder, self.path = name, holder_name(), path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        import fcntl

        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, self.holder.encode())  # who holds it, for an operator
        self._fd = fd
        return True

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock


class LocalLease:
    """An in-memory database: no other process can share it, so this one holds the lease."""

    def __init__(self, name: str) -> None:
        self.name, self.holder = name, holder_name()

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


def make_lease(settings: Any, name: str, *, ttl: float = DEFAULT_TTL) -> Lease:
    """Redis when the bus is there (every machine reaches it), else the database's own."""
    if settings.bus_url:
        return RedisLease(settings.bus_url, name, ttl=ttl)
    url: str = settings.database_url
    if url.startswith(("postgresql", "mysql")):
        return PostgresLease(url, name)
    path = url.split(":///", 1)[1] if ":///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return LocalLease(name)
    return FileLease(Path(f"{path}.{name}.lease"), name)
