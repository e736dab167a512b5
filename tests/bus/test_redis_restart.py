"""Redis restarted (kill -9, then started again on the same port, without persistence: it
comes back empty): the work streams, the shared limits and the lease come back by themselves,
and while it is down they degrade as docs/deploy.md says instead of raising. The Redis here
is the test's own redis-server on a free port (never the shared one)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from kefu.bus.base import BusError
from kefu.bus.lease import RedisLease
from kefu.bus.limits import RedisLimits
from kefu.bus.redis_streams import RedisBus
from tests.ports import free_port

REDIS_SERVER = shutil.which("redis-server")


class Server:
    """A redis-server the test kills (-9) and starts again on the same port, empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def pause(self, paused: bool) -> None:
        """SIGSTOP / SIGCONT: a Redis that holds its connections and does not answer."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process dies only once resumed
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def server() -> Iterator[Server]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    made = Server()
    made.start()
    try:
        yield made
    finally:
        made.kill()


async def test_a_work_stream_goes_on_after_redis_comes_back_empty(server: Server) -> None:
    """Without persistence the consumer group is gone after the restart (XREADGROUP answers
    NOGROUP): the consumer makes it again and takes the new work, not fail on every claim."""
    bus = RedisBus(server.url)
    try:
        await bus.enqueue("jobs", {"n": "1"})
        [first] = await bus.claim("jobs", "g", "c1", wait=0.1)
        await bus.ack("jobs", "g", first.id)
        server.kill()
        with pytest.raises(BusError):  # down: the caller hears it (and retries later)
            await bus.claim("jobs", "g", "c1", wait=0.1)
        with pytest.raises(BusError):  # every call says so the same way (not redis-py's own)
            await bus.dead("jobs")
        server.start()
        # The pooled connections died with the old server: the first call after the restart
        # may fail once; the claims after it must not (NOGROUP on every one was the bug).
        await bus.enqueue("jobs", {"n": "2"})
        got = []
        for _ in range(3):
            try:
                got = await bus.claim("jobs", "g", "c1", wait=0.1)
            except BusError:
                continue
            if got:
                break
        assert [d.payload for d in got] == [{"n": "2"}]
        await bus.ack("jobs", "g", got[0].id)
    finally:
        await bus.close()


async def test_limits_fall_back_while_down_and_are_shared_again_after(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.bus import limits as module

    monkeypatch.setattr(module, "RETRY_SECONDS", 0.3)
    limits, other = RedisLimits(server.url), RedisLimits(server.url)
    rate, burst = 1.0, 3
    try:
        assert [await limits.take("p", 1, rate=rate, burst=burst) for _ in range(3)] == [0] * 3
        # Shared: the other process's bucket is the same one, already empty.
        assert await other.take("p", 1, rate=rate, burst=burst) > 0
        server.kill()
        # Down: each process its own full bucket (no exception, no long wait).
        began = time.monotonic()
        assert [await other.take("p", 1, rate=rate, burst=burst) for _ in range(3)] == [0] * 3
        assert await other.take("p", 1, rate=rate, burst=burst) > 0
        assert time.monotonic() - began < 5
        server.start()
        # Back (empty: the script cache too, NOSCRIPT): Redis is asked again RETRY_SECONDS
        # after the last failure; the first take may still meet a dead pooled socket and fall
        # back once more; after that both share Redis's bucket again.
        for _ in range(2):
            await asyncio.sleep(0.4)
            await limits.take("q", 1, rate=rate, burst=burst)
            await other.take("q", 1, rate=rate, burst=burst)
        admitted = [await x.take("r", 1, rate=rate, burst=burst) == 0
                    for x in (limits, other, limits, other)]  # fmt: skip
        assert admitted == [True, True, True, False]  # a burst of 3 between the two
    finally:
        await limits.close()
        await other.close()


async def test_the_lease_is_lost_while_down_and_taken_again_after(server: Server) -> None:
    lease, standby = RedisLease(server.url, "w", ttl=3), RedisLease(server.url, "w", ttl=3)
    try:
        assert await lease.acquire() is True
        assert await standby.acquire() is False
        server.kill()
        assert await lease.acquire() is False  # nobody can prove they hold it
        server.start()
        # Empty after the restart: whoever asks first takes it; then it holds as before.
        held = [await lease.acquire() for _ in range(2)]
        assert held[-1] is True
        assert await standby.acquire() is False
        assert await lease.holder_now() == lease.holder
    finally:
        await lease.release()
        await standby.release()


async def test_many_stale_connections_fail_at_most_once_each(server: Server) -> None:
    """Blocking reads hold a pooled connection each: after a restart every one of them is a
    dead socket. Ten publishes at once must not keep failing after the first round."""
    bus = RedisBus(server.url)
    try:
        await asyncio.gather(*(bus.publish("t", {"i": str(i)}) for i in range(10)))
        server.kill()
        server.start()
        first = await asyncio.gather(*(bus.publish("t", {"i": str(i)}) for i in range(10)),
                                     return_exceptions=True)  # fmt: skip
        second = await asyncio.gather(*(bus.publish("t", {"i": str(i)}) for i in range(10)),
                                      return_exceptions=True)  # fmt: skip
        assert [r for r in second if r is not None] == [], (first, second)
    finally:
        await bus.close()


@dataclass
class LivePage:
    """A workspace page's change stream on the test's Redis, already woken once by a signal."""

    bus: RedisBus
    marker: dict[str, int]  # what the page shows; a change is += 1
    body: AsyncIterator[str]

    async def changed_within(self, seconds: float) -> None:
        """The page sees a change made without a signal (a database read) within seconds."""
        from tests.bus.test_live_fallback import _changed_within

        await _changed_within(self.body, self.marker, seconds)

    async def is_back_on_signals(self) -> None:
        """A change without its signal is not seen (no polling); its signal wakes the page."""
        pending = asyncio.ensure_future(anext(self.body))
        await asyncio.sleep(1)  # the stream's catch-up read on resubscribing (nothing moved)
        self.marker["value"] += 1  # a polling stream would see it within 0.5 s
        done, _ = await asyncio.wait({pending}, timeout=2)
        assert not done, "the stream still polls after Redis answered again"
        await self.bus.publish("workspace", {"tables": "messages"})  # the signal wakes it
        expected = f"event: changed\ndata: {self.marker['value']}\n\n"
        assert await asyncio.wait_for(pending, 5) == expected


@pytest.fixture
async def page(server: Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LivePage]:
    from kefu.web import live
    from tests.bus.test_live_fallback import _changed_within, _stream

    monkeypatch.setattr(live, "RESUBSCRIBE_SECONDS", 0.2)
    monkeypatch.setattr(live, "FALLBACK_SHARED", 600.0)  # on the bus: only a signal wakes it
    bus = RedisBus(server.url)
    marker = {"value": 1}
    body = _stream(bus, marker)
    try:
        assert "event: hello" in await asyncio.wait_for(anext(body), 10)
        await asyncio.sleep(0.2)
        await _changed_within(body, marker, 5, bus=bus)
        yield LivePage(bus, marker, body)
    finally:
        await body.aclose()
        await bus.close()


async def test_a_live_page_goes_back_to_signals_after_redis_returns(
    server: Server, page: LivePage
) -> None:
    """Down: the stream reads the database every 0.5 s. Back: it subscribes again by itself
    (it used to poll until the stream ended, 5 minutes for the inbox) and stops polling."""
    server.kill()
    await asyncio.sleep(0.2)
    await page.changed_within(5)  # down: seen by the 0.5 s reads
    server.start()
    await asyncio.sleep(3)  # the pump's next try (every 0.2 s here) subscribes again
    await page.is_back_on_signals()


async def test_a_quiet_subscription_outlives_the_socket_timeout(server: Server) -> None:
    """No signal for longer than redis-py's default socket timeout (5 s): the subscriber's
    blocking read used to time out and end the subscription (every live page then polled)."""
    bus = RedisBus(server.url)
    try:
        async with bus.subscribe("quiet") as events:
            waiting = asyncio.ensure_future(anext(events))
            await asyncio.sleep(7)
            assert not waiting.done() or waiting.exception() is None
            await bus.publish("quiet", {"n": "1"})
            assert await asyncio.wait_for(waiting, 10) == {"n": "1"}
    finally:
        await bus.close()


async def test_limits_ask_a_failed_redis_again_only_after_a_pause(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis that does not answer would cost every request its timeout: after a failure
    the local bucket answers at once until RETRY_SECONDS have passed."""
    from kefu.bus import limits as module

    monkeypatch.setattr(module, "RETRY_SECONDS", 0.5)
    limits = RedisLimits(server.url)
    asked = 0
    script = limits._script

    async def counting(**kwargs: object) -> object:
        nonlocal asked
        asked += 1
        return await script(**kwargs)  # type: ignore[arg-type]

    limits._script = counting  # type: ignore[assignment]
    try:
        await limits.take("p", 1, rate=100.0, burst=100)
        server.kill()
        for _ in range(20):
            assert await limits.take("p", 1, rate=100.0, burst=100) == 0
        assert asked == 2  # the one that worked and the one that found Redis gone
        await asyncio.sleep(0.6)
        await limits.take("p", 1, rate=100.0, burst=100)
        assert asked == 3  # asked again after the pause
    finally:
        await limits.close()


async def test_limits_on_a_redis_that_does_not_answer_cost_a_second_not_every_request(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis stopped (SIGSTOP: connections open, no answer): the first takes wait TIMEOUT and
    fall back; the next ones answer from the local bucket at once, while one request a
    second asks Redis again; when it answers again the bucket is shared again."""
    from kefu.bus import limits as module

    monkeypatch.setattr(module, "RETRY_SECONDS", 3.0)  # the local loop below ends well before
    limits = RedisLimits(server.url)
    try:
        assert await limits.take("p", 1, rate=100.0, burst=100) == 0
        server.pause(True)
        began = time.monotonic()
        first = await asyncio.gather(*(limits.take("p", 1, rate=100.0, burst=100)
                                       for _ in range(20)))  # fmt: skip
        assert first == [0] * 20
        assert time.monotonic() - began < module.TIMEOUT + 2  # together, not 20 timeouts
        began = time.monotonic()
        for _ in range(20):
            assert await limits.take("p", 1, rate=100.0, burst=100) == 0
        assert time.monotonic() - began < module.TIMEOUT  # local, none waited for Redis
        server.pause(False)
        await asyncio.sleep(module.RETRY_SECONDS + 0.2)
        await limits.take("q", 1, rate=1.0, burst=1)  # the probe: shared again (a dead
        await asyncio.sleep(module.RETRY_SECONDS + 0.2)  # socket may fail it once more)
        await limits.take("q2", 1, rate=1.0, burst=1)
        # Shared: the bucket is Redis's (another client sees it emptied).
        other = RedisLimits(server.url)
        try:
            assert await limits.take("r", 1, rate=1.0, burst=1) == 0
            assert await other.take("r", 1, rate=1.0, burst=1) > 0
        finally:
            await other.close()
    finally:
        await limits.close()


async def test_a_live_page_on_a_redis_that_does_not_answer_polls_then_comes_back(
    server: Server, page: LivePage
) -> None:
    """Redis stopped (SIGSTOP): the page's blocking read times out after the bus client's
    SOCKET_TIMEOUT and the page reads the database (it stayed frozen 15 s, the whole outage
    in the drill); resumed, it goes back to signals."""
    from kefu.bus import redis_streams

    server.pause(True)
    await page.changed_within(redis_streams.SOCKET_TIMEOUT + 3)
    server.pause(False)
    await asyncio.sleep(redis_streams.SOCKET_TIMEOUT + 1)  # a hung resubscribe ends
    await page.is_back_on_signals()
