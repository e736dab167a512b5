"""Live pages by server-sent events: a page's stream says 'changed' when a marker moved (the
newest event id, an alert's update time, …) and the browser re-fetches its fragment (htmx).
Polling a marker works across any number of app processes without a message bus; the stream
ends after ``max_seconds`` and EventSource reconnects by itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

KEEP_ALIVE_SECONDS = 15


def marker_events(
    request: Request,
    marker: Callable[[Request], Awaitable[Any]],
    *,
    poll_seconds: float,
    max_seconds: float,
) -> StreamingResponse:
    """'hello' with the marker, then 'changed' each time it moves (read every
    ``poll_seconds``), a keep-alive comment when it stays put for a while."""

    async def stream() -> AsyncIterator[str]:
        last = await marker(request)
        yield f"event: hello\ndata: {json.dumps(last)}\n\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        beat = loop.time()
        while loop.time() < deadline:
            if await request.is_disconnected():
                return
            await asyncio.sleep(poll_seconds)
            current = await marker(request)
            if current != last:
                last = current
                yield f"event: changed\ndata: {json.dumps(current)}\n\n"
            elif loop.time() - beat > KEEP_ALIVE_SECONDS:
                beat = loop.time()
                yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
