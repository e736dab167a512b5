"""Which gateway processes are alive, so that the rows a dead one held are settled at once
rather than when their lease runs out.

Every gateway registers itself (``sms_senders``) before it claims anything, stamps the rows it
claims with its id and refreshes its heartbeat every HEARTBEAT seconds. Another gateway takes
a sender for dead when its heartbeat is older than DEAD_AFTER, or at once when it ran on the
same host and PID namespace and its process is gone (``kill -9`` and a restart).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.models import SmsSender
from kefu.db.base import utcnow

HEARTBEAT = 2.0  # seconds between heartbeats
DEAD_AFTER = timedelta(seconds=10)  # a heartbeat this old: the process is gone or cut off


def this_host() -> str:
    """The host and PID namespace: where a PID names the same process as ours."""
    namespace = ""
    with contextlib.suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    return f"{socket.gethostname()}|{namespace}"[:255]


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive
    return False


class Senders:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.me = uuid.uuid4().hex[:16]
        self.host = this_host()

    async def register(self) -> None:
        async with self.sessionmaker() as db:
            db.add(SmsSender(id=self.me, host=self.host, pid=os.getpid(), seen_at=utcnow()))
            await db.commit()

    async def beat(self) -> None:
        async with self.sessionmaker() as db:
            await db.execute(
                update(SmsSender).where(SmsSender.id == self.me).values(seen_at=utcnow())
            )
            await db.commit()

    async def leave(self) -> None:
        """A clean stop, once every row this process claimed is recorded."""
        async with self.sessionmaker() as db:
            await db.execute(delete(SmsSender).where(SmsSender.id == self.me))
            await db.commit()

    async def dead(self, db: AsyncSession) -> list[str]:
        """Registered senders that are gone (their rows in ``sending`` are interrupted)."""
        stale = utcnow() - DEAD_AFTER
        rows = await db.execute(
            select(SmsSender.id, SmsSender.host, SmsSender.pid, SmsSender.seen_at)
        )
        return [
            sid
            for sid, host, pid, seen_at in rows.all()
            if sid != self.me and (seen_at < stale or (host == self.host and process_gone(pid)))
        ]

    async def alive(self, db: AsyncSession) -> set[str]:
        rows = await db.scalars(select(SmsSender.id))
        return set(rows.all()) - set(await self.dead(db))
