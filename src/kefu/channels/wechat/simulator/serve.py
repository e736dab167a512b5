"""Serving an ASGI app (the simulator, or kefu in tests and benchmarks) on a real loopback
socket inside the running event loop; port 0 picks a free port."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass
class Served:
    server: uvicorn.Server
    task: asyncio.Task[Any]
    url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 10)


async def serve(app: Any, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Served:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            **options)  # fmt: skip
    server = uvicorn.Server(config)
    # The process's own server (or pytest) owns the signals; this one must not take them.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return Served(server, task, f"http://{host}:{bound}")
