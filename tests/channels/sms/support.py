"""Helpers shared by the SMS outbox's crash tests (test_outbox_recovery, test_kept_reports,
test_submit_mark): a dead and a live sender, and the teardown of gateway processes."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterable
from typing import Any

from kefu.channels.sms.models import SmsSender
from kefu.channels.sms.senders import this_host
from kefu.db.base import utcnow


def dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def add_dead_and_live_senders(factory: Any) -> None:
    """Sender ``killed``: this host, a pid no process has (its gateway died); ``alive``:
    another host, so nothing here can tell it is dead (only its heartbeat's age could)."""
    async with factory() as db:
        db.add(SmsSender(id="killed", host=this_host(), pid=dead_pid(), seen_at=utcnow()))
        db.add(SmsSender(id="alive", host="elsewhere", pid=1, seen_at=utcnow()))
        await db.commit()


async def stop_gateways(processes: Iterable[asyncio.subprocess.Process], sim: Any) -> None:
    """The crash tests' teardown: every gateway process still running is stopped (and
    reaped), then the carrier simulator."""
    for process in processes:
        if process.returncode is None:
            process.terminate()
            await process.wait()
    await sim.stop()
