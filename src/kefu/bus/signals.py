"""Change signals from committed writes: when a session commits rows of a watched table, the
bus gets one event on that table's topic, so open live pages re-read at once instead of polling
the database. Publishing never blocks or fails a commit (a lost signal only delays a page until
its fallback read)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from kefu.bus.base import Bus
from kefu.db import writes
from kefu.logs import get_logger

log = get_logger(__name__)

# Table → topic. The workspace's inbox moves with routing events and messages.
WATCHED: Mapping[str, str] = {"routing_events": "workspace", "messages": "workspace"}


def publish_commits(bus: Bus, watched: Mapping[str, str] = WATCHED) -> Callable[[], None]:
    """Starts signalling; returns the function that stops it (the app's shutdown)."""
    tasks: set[asyncio.Task[None]] = set()

    def committed(tables: set[str]) -> None:
        topics = {watched[t] for t in tables if t in watched}
        if not topics:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a synchronous script (migrations, seeding): nobody is listening
        for topic in topics:
            task = loop.create_task(_publish(bus, topic, ",".join(sorted(tables))))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    writes.on_commit(committed)
    return lambda: writes.remove(committed)


async def _publish(bus: Bus, topic: str, tables: str) -> None:
    try:
        await bus.publish(topic, {"tables": tables})
    except Exception:  # noqa: BLE001 - a signal is a hint; the page's fallback read catches up
        log.warning("bus_signal_failed", topic=topic, exc_info=True)
