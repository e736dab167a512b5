"""A live page when Redis is down: the stream polls the database (every ``poll_seconds``)
instead of failing, both when Redis is away as the page opens and when it dies mid-stream.
The Redis here is the test's own redis-server on a free port, stopped by the test."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from kefu.bus.redis_streams import RedisBus
from kefu.web import live
from tests.ports import free_port

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.kill()
        server.wait()


def _stream(bus: Any, marker: dict[str, int]) -> Any:
    async def read(_request: object) -> int:
        return marker["value"]

    async def connected() -> bool:
        return False

    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(bus=bus)),
                              is_disconnected=connected)  # fmt: skip
    response = live.marker_events(request, read, poll_seconds=0.5, max_seconds=60,  # type: ignore[arg-type]
                                  wake="workspace")  # fmt: skip
    return response.body_iterator


async def _changed_within(
    body: Any, marker: dict[str, int], seconds: float, *, bus: Any = None
) -> float:
    marker["value"] += 1
    if bus is not None:  # the change's signal, as a commit sends it
        await bus.publish("workspace", {"tables": "messages"})
    began = time.monotonic()
    got = await asyncio.wait_for(anext(body), seconds)
    assert got == f"event: changed\ndata: {marker['value']}\n\n"
    return time.monotonic() - began


async def test_redis_down_when_the_page_opens_the_stream_polls() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    marker = {"value": 1}
    body = _stream(bus, marker)
    try:
        assert "event: hello" in await asyncio.wait_for(anext(body), 10)
        # Without the fallback the stream would fail here, or wait for its 30 s bus read.
        assert await _changed_within(body, marker, 3) < 1.5
    finally:
        await body.aclose()
        await bus.close()


async def test_redis_dying_mid_stream_turns_the_stream_to_polling(
    own_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, server = own_redis
    bus = RedisBus(url)
    marker = {"value": 1}
    body = _stream(bus, marker)
    try:
        assert "event: hello" in await asyncio.wait_for(anext(body), 10)
        await asyncio.sleep(0.2)  # subscribed: its blocking read is waiting on Redis
        # Redis up: the stream waits on the bus (30 s between its own reads); a signal wakes it.
        assert await _changed_within(body, marker, 5, bus=bus) < 5
        server.kill()
        server.wait()
        await asyncio.sleep(0.2)
        # Redis gone: the next change is seen by the 0.5 s reads, not after 30 s.
        assert await _changed_within(body, marker, 5) < 3
    finally:
        await body.aclose()
        await bus.close()
