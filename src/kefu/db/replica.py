"""Read/write splitting: reads that tolerate lag go to a PostgreSQL streaming replica
(``KEFU_DATABASE_REPLICA_URL``), every write and every read-your-write to the primary.

Which reads: ``GET``/``HEAD`` requests whose path starts with one of ``LAGGING_READS`` — the
service-centre reports and dashboards, the behaviour analytics pages, conversation search and
the knowledge base's pages (figures and lists that a few seconds of lag do not make wrong).
Everything else (the workspace, the channels' callbacks, sign-in, every ``POST``) uses the
primary. Within a lagging read, the first statement that is not a plain read (an audit row,
a flush) and everything after it run on the primary (``RoutingSession``). A browser that wrote something (any non-``GET`` request) reads from the primary for
``max_lag`` seconds after (the cookie ``kefu_wrote``), so a list shown after "save" has the
saved row.

Fallback: the replica is checked at most every ``CHECK_EVERY`` seconds (``pg_is_in_recovery``
and the replay lag; the check runs beside the requests, never in their way). While it is
unreachable or lags more than ``max_lag`` seconds, the reads go to the primary; the change is
logged once each way and counted (``kefu_db_reads_total{target}`` on ``/metrics``). A replica
that dies between two checks fails over at the request that finds it dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import CompoundSelect, Select, TextClause, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.logs import get_logger

log = get_logger(__name__)

# Path prefixes of the pages and APIs whose GETs may read a replica (docs/deploy.md).
LAGGING_READS = (
    "/reports", "/api/v1/reports", "/dashboard", "/analytics", "/api/v1/analytics",
    "/search", "/api/v1/search", "/knowledge", "/api/v1/knowledge",
)  # fmt: skip
READ_METHODS = frozenset({"GET", "HEAD"})
WROTE_COOKIE = "kefu_wrote"  # set on a write: this browser reads the primary for a while
CHECK_EVERY = 5.0  # seconds between checks of the replica
CHECK_TIMEOUT = 2.0  # a replica that does not answer the check in this long is "down"
# Seconds the replica is behind: 0 when it has replayed everything it received (an idle
# primary sends nothing, so the last replayed transaction's age alone would read as lag).
LAG_SQL = text(
    "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"
    " END"
)


# Raw SQL that is not a plain read (a standby refuses writes, locks and sequences).
_WRITES = re.compile(
    r"(?is)\b(insert|update|delete|merge|truncate|lock|nextval|setval|pg_advisory\w*)\b"
    r"|\bfor\s+(no\s+key\s+update|update|share|key\s+share)\b"
)


def is_plain_read(clause: Any) -> bool:
    """Whether a statement may run on a standby: a SELECT without FOR UPDATE/SHARE, or raw
    SQL that starts with SELECT/WITH and names no write, lock or sequence."""
    if isinstance(clause, Select):
        return clause._for_update_arg is None
    if isinstance(clause, CompoundSelect):
        return True
    if isinstance(clause, TextClause):
        sql = clause.text.lstrip().lower()
        return sql.startswith(("select", "with")) and not _WRITES.search(sql)
    return False  # inserts, updates, deletes, DDL, a connection asked for without a statement


class RoutingSession(Session):
    """A request session that reads the replica until its first statement that is not a
    plain read (an audit row a report writes, a flush); from then on every statement of the
    session runs on the primary, so the request reads what it wrote."""

    primary: Engine
    replica: Engine

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wrote = False

    def get_bind(self, mapper: Any = None, clause: Any = None, **kwargs: Any) -> Engine:
        if self.wrote or self._flushing or not is_plain_read(clause):
            self.wrote = True
            return self.primary
        return self.replica


def reads_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "kefu_db_reads_total",
        "Request sessions by database: replica; primary (a read that could have gone to the "
        "replica but it was down or behind); primary_write (everything else).",
        ["target"],
        registry=registry,
    )


class WroteCookie:
    """ASGI middleware: a response to a write sets ``kefu_wrote`` (the time), so the same
    browser's next reads go to the primary for ``max_lag`` seconds (read-your-write)."""

    def __init__(self, app: ASGIApp, max_lag: float) -> None:
        self.app, self.max_lag = app, max_lag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = (f"{WROTE_COOKIE}={int(time.time())}; Max-Age={int(self.max_lag) + 1};"
                          " Path=/; HttpOnly; SameSite=Lax")  # fmt: skip
                headers = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


class ReadRouting:
    """Chooses the session factory of a request's reads (``get_db`` asks it)."""

    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        replica: AsyncEngine | None,
        *,
        max_lag: float,
        reads: Counter | None = None,
    ) -> None:
        self.primary = primary
        self.engine = replica
        self.replica: async_sessionmaker[AsyncSession] | None = None
        if replica is not None:
            routing = type("ReplicaSession", (RoutingSession,), {
                "primary": primary.kw["bind"].sync_engine, "replica": replica.sync_engine})  # fmt: skip
            self.replica = async_sessionmaker(sync_session_class=routing, expire_on_commit=False)
        self.max_lag = max_lag
        self.healthy = False  # until the first check says otherwise
        self.reason = "not checked yet"
        self._checked_at = -CHECK_EVERY
        self._said: bool | None = None  # what was last logged
        self._check: asyncio.Task[bool] | None = None
        self.reads = reads or reads_counter(CollectorRegistry())

    def lagging_read(self, method: str, path: str, cookies: dict[str, str]) -> bool:
        """Whether this request's reads may be a little stale."""
        if self.replica is None or method not in READ_METHODS:
            return False
        if not path.startswith(LAGGING_READS):
            return False
        wrote = cookies.get(WROTE_COOKIE, "")
        return not (wrote.isdigit() and time.time() - int(wrote) < self.max_lag)

    async def check(self) -> bool:
        """Asks the replica whether it is one and how far behind it is; updates ``healthy``."""
        assert self.engine is not None
        self._checked_at = time.monotonic()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), self.engine.connect() as conn:
                recovering, lag = (await conn.execute(LAG_SQL)).one()
        except Exception as exc:  # noqa: BLE001 - any failure means: read the primary
            self._set(False, f"unreachable: {type(exc).__name__}")
            return False
        if not recovering:
            self._set(False, "not a replica (pg_is_in_recovery() is false)")
        elif float(lag) > self.max_lag:
            self._set(False, f"{float(lag):.1f} s behind (limit {self.max_lag:g} s)")
        else:
            self._set(True, "ok")
        return self.healthy

    def _set(self, healthy: bool, reason: str) -> None:
        if healthy != self._said:  # once per change, not once per request
            self._said = healthy
            if healthy:
                log.info("db_replica_reads_on", max_lag=self.max_lag)
            else:
                log.warning("db_replica_reads_off", reason=reason)
        self.healthy, self.reason = healthy, reason

    def _refresh(self) -> None:
        """Starts a check beside the requests when the last one is old."""
        if time.monotonic() - self._checked_at < CHECK_EVERY:
            return
        if self._check is None or self._check.done():
            self._checked_at = time.monotonic()
            self._check = asyncio.create_task(self.check(), name="db-replica-check")

    def write_session(self) -> AsyncSession:
        """A session on the primary for a request that writes, counted as such (what
        ``session(False)`` opens, for a caller that cannot enter a context manager here)."""
        self.reads.labels("primary_write").inc()
        return self.primary()

    @asynccontextmanager
    async def session(self, lagging: bool) -> AsyncIterator[AsyncSession]:
        """A session on the replica for a lagging read while it is healthy, else the
        primary's; its first connection is taken here, so a dead replica falls back now."""
        if lagging and self.replica is not None:
            if self._checked_at < 0:
                await self.check()  # the first request waits for the first answer
            else:
                self._refresh()
            if self.healthy:
                session = self.replica()
                try:  # the replica's connection now: a dead replica is found here
                    await session.connection(bind_arguments={"clause": text("SELECT 1")})
                except Exception as exc:  # noqa: BLE001 - died since the last check
                    await session.close()
                    self._set(False, f"unreachable: {type(exc).__name__}")
                else:
                    self.reads.labels("replica").inc()
                    async with session:
                        yield session
                    return
            self.reads.labels("primary").inc()
        else:
            self.reads.labels("primary_write").inc()
        async with self.primary() as session:
            yield session

    async def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
        if self.engine is not None:
            await self.engine.dispose()
