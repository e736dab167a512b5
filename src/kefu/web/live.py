"""Live pages by server-sent events: a page's stream says 'changed' when a marker moved (the
newest event id, an alert's update time, …) and the browser re-fetches its fragment (htmx).

Without a bus topic the marker is read every ``poll_seconds`` (works across any number of app
processes sharing the database). With one (``wake``), the stream reads the marker when the bus
signals a commit on that topic (``kefu.bus.signals``) and otherwise only every
``fallback_seconds``: 2 s on the in-process bus (writes by another process, e.g. a separate SMS
gateway, are seen by that read), 30 s on Redis (every process publishes there). When Redis
cannot be reached (at the start or mid-stream) the stream reads every ``poll_seconds`` and
tries the bus again every ``RESUBSCRIBE_SECONDS``; once it answers, the stream reads once (what
changed while it was away) and is woken by signals again. The stream ends after
``max_seconds`` and EventSource reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from kefu.bus.base import Bus
from kefu.logs import get_logger

log = get_logger(__name__)

KEEP_ALIVE_SECONDS = 15
FALLBACK_IN_PROCESS = 2.0
FALLBACK_SHARED = 30.0
# While the bus is away each stream asks again this often (a refused connection costs nothing;
# a page is back on signals at most this long after Redis returns).
RESUBSCRIBE_SECONDS = 5.0


def marker_events(
    request: Request,
    marker: Callable[[Request], Awaitable[Any]],
    *,
    poll_seconds: float,
    max_seconds: float,
    wake: str | None = None,
) -> StreamingResponse:
    """'hello' with the marker, then 'changed' each time it moves, a keep-alive comment when it
    stays put for a while."""
    bus: Bus | None = getattr(request.app.state, "bus", None) if wake else None

    async def stream() -> AsyncIterator[str]:
        # Subscribed before the first read, so a change between the two is not missed.
        async with _signals(bus, wake) as signals:
            last = await marker(request)
            yield f"event: hello\ndata: {json.dumps(last)}\n\n"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max_seconds
            beat = loop.time()
            while loop.time() < deadline:
                if await request.is_disconnected():
                    return
                every = poll_seconds
                if bus is not None and not signals.failed:
                    every = FALLBACK_SHARED if bus.shared else FALLBACK_IN_PROCESS
                await signals.wait(min(every, max(deadline - loop.time(), 0.01)))
                current = await marker(request)
                if current != last:
                    last = current
                    yield f"event: changed\ndata: {json.dumps(current)}\n\n"
                elif loop.time() - beat > KEEP_ALIVE_SECONDS:
                    beat = loop.time()
                    yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


class _Signals:
    """Whether the bus signalled since the last wait; ``failed`` while the bus cannot be
    reached (at subscribe or later): the stream then reads every ``poll_seconds``."""

    def __init__(self) -> None:
        self.flag = asyncio.Event()
        self.failed = False

    def broken(self) -> None:
        self.failed = True
        self.flag.set()  # wake the stream now: it reads, then polls

    def mended(self) -> None:
        self.failed = False
        self.flag.set()  # one read now: what changed while the bus was away

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flag.wait(), seconds)
        self.flag.clear()


@contextlib.asynccontextmanager
async def _signals(bus: Bus | None, topic: str | None) -> AsyncIterator[_Signals]:
    """Set whenever the bus signals ``topic``. A task pumps the subscription, so a timeout
    never cancels the subscription's own read. Without a bus the stream polls. With one that
    cannot be reached (Redis down when the page opens, or failing mid-stream) it polls too,
    and the pump subscribes again every ``RESUBSCRIBE_SECONDS`` until the bus answers: a page
    stays live on the database alone and goes back to signals by itself."""
    signals = _Signals()
    if bus is None or topic is None:
        signals.failed = True
        yield signals
        return
    subscription: Any = None

    async def subscribe() -> AsyncIterator[dict[str, str]]:
        nonlocal subscription
        subscription = bus.subscribe(topic)
        return await subscription.__aenter__()

    async def leave() -> None:
        nonlocal subscription
        done, subscription = subscription, None
        if done is not None:
            with contextlib.suppress(Exception):
                await done.__aexit__(None, None, None)

    events: AsyncIterator[dict[str, str]] | None
    # Subscribed before the stream's first read (here, not in the pump), so a change between
    # the two is not missed.
    try:
        events = await subscribe()
    except Exception as exc:  # noqa: BLE001 - BusError or the client's own: poll instead
        # No traceback: rendering one costs seconds of the page's first event, once per page.
        log.warning("live_stream_polls", topic=topic, reason="bus unreachable", error=str(exc))
        await leave()
        signals.failed, events = True, None

    async def pump() -> None:
        nonlocal events
        while True:
            if events is None:
                await asyncio.sleep(RESUBSCRIBE_SECONDS)
                try:
                    events = await subscribe()
                except Exception:  # noqa: BLE001 - still away: logged once, when it went
                    await leave()
                    continue
                log.info("live_stream_signals", topic=topic)
                signals.mended()
            try:
                async for _ in events:
                    signals.flag.set()
            except Exception as exc:  # noqa: BLE001 - the bus went away mid-stream
                log.warning("live_stream_polls", topic=topic, reason="bus failed", error=str(exc))
                signals.broken()
            events = None
            await leave()

    task = asyncio.create_task(pump())
    try:
        yield signals
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await leave()
