"""Live pages by server-sent events: a page's stream says 'changed' when a marker moved (the
newest event id, an alert's update time, …) and the browser re-fetches its fragment (htmx).

Without a bus topic the marker is read every ``poll_seconds`` (works across any number of app
processes sharing the database). With one (``wake``), the stream reads the marker when the bus
signals a commit on that topic (``kefu.bus.signals``) and otherwise only every
``fallback_seconds``: 2 s on the in-process bus (writes by another process, e.g. a separate SMS
gateway, are seen by that read), 30 s on Redis (every process publishes there). The stream ends
after ``max_seconds`` and EventSource reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from kefu.bus.base import Bus

KEEP_ALIVE_SECONDS = 15
FALLBACK_IN_PROCESS = 2.0
FALLBACK_SHARED = 30.0


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
        async with _signals(bus, wake) as signalled:
            last = await marker(request)
            yield f"event: hello\ndata: {json.dumps(last)}\n\n"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max_seconds
            beat = loop.time()
            every = poll_seconds
            if bus is not None:
                every = FALLBACK_SHARED if bus.shared else FALLBACK_IN_PROCESS
            while loop.time() < deadline:
                if await request.is_disconnected():
                    return
                await _wait(signalled, min(every, max(deadline - loop.time(), 0.01)))
                current = await marker(request)
                if current != last:
                    last = current
                    yield f"event: changed\ndata: {json.dumps(current)}\n\n"
                elif loop.time() - beat > KEEP_ALIVE_SECONDS:
                    beat = loop.time()
                    yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


@contextlib.asynccontextmanager
async def _signals(bus: Bus | None, topic: str | None) -> AsyncIterator[asyncio.Event | None]:
    """An event set whenever the bus signals ``topic`` (None without a bus). A task pumps the
    subscription, so a timeout never cancels the subscription's own read."""
    if bus is None or topic is None:
        yield None
        return
    flag = asyncio.Event()
    async with bus.subscribe(topic) as events:

        async def pump() -> None:
            async for _ in events:
                flag.set()

        task = asyncio.create_task(pump())
        try:
            yield flag
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _wait(flag: asyncio.Event | None, seconds: float) -> None:
    if flag is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(flag.wait(), seconds)
    flag.clear()
