"""The asyncio client (ESME / SP side) shared by every protocol.

One :class:`CarrierClient` keeps one TCP link bound: it reconnects with exponential back-off,
keeps the link alive, holds at most ``window`` unanswered requests, paces sends to
``max_tps``, and gives every submit a definite :class:`Outcome`.

Delivery guarantee, stated precisely: a submit whose PDU was never written is (re)tried on
the next link; a submit the carrier answered with a throttling status is retried after a
back-off (it was refused, so resending cannot duplicate it); a submit that was written but
whose answer never came (timeout, link lost) fails with that reason and is *not* resent,
because the carrier may have accepted it and a resend could deliver it twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthenticationFailed, ProtocolError
from .framing import split_frames
from .link import FAILED, OK, THROTTLED, Link
from .message import Assembler, Inbound, OutMessage

log = logging.getLogger(__name__)

InboundHandler = Callable[[Inbound], Awaitable[None] | None]


@dataclass
class Outcome:
    """The definite end of one submitted message (all its parts)."""

    ok: bool
    message_ids: list[str] = field(default_factory=list)
    error: str = ""
    attempts: int = 0
    # Why a failure failed, for the caller's retry policy: "refused" (the carrier answered
    # no: resending would be refused again), "unsent" (no part reached the wire: safe to
    # resend) or "unknown" (a part was written and no answer came: the carrier may have it).
    failure: str = ""


def _failure_of(results: list[tuple[bool, str, str, int, str]]) -> str:
    """One kind for a long message: resending is safe only if no part reached the carrier."""
    kinds = {r[4] for r in results}
    if not kinds - {""}:
        return ""
    if kinds == {"unsent"}:
        return "unsent"
    if "unknown" in kinds:
        return "unknown"
    return "refused"  # refused parts, or parts already with the carrier that a resend would repeat


class RequestFailed(Exception):
    """A request got no usable answer; ``sent`` tells whether it reached the wire."""

    def __init__(self, reason: str, sent: bool) -> None:
        super().__init__(reason)
        self.sent = sent


class Window:
    """At most ``size`` requests unanswered; a freed slot goes straight to the longest waiter.

    What ``asyncio.Semaphore`` does, minus its per-acquire scan of the waiters and the
    coroutine it runs even when a slot is free: on the submit path of every PDU that is a
    noticeable share of the client's CPU.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_take(self) -> bool:
        if self.free and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.give()  # handed a slot just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise

    def give(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes to this waiter without being freed
                return
        self.free += 1


class Pacer:
    """Spaces sends ``1/tps`` apart; a burst never exceeds the configured rate."""

    def __init__(self, tps: float | None) -> None:
        self.interval = 1.0 / tps if tps else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class CarrierClient:
    def __init__(
        self,
        link: Link,
        host: str,
        port: int,
        *,
        window: int | None = None,
        max_tps: float | None = None,
        response_timeout: float = 10.0,
        keepalive_interval: float = 30.0,
        connect_timeout: float = 10.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
        throttle_backoff: float = 0.05,
        throttle_backoff_max: float = 1.0,
        max_attempts: int | None = None,
        submit_deadline: float = 60.0,
        on_inbound: InboundHandler | None = None,
        reassembly_timeout: float = 120.0,
    ) -> None:
        self.link = link
        self.host, self.port = host, port
        self.window = window or link.default_window
        self.pacer = Pacer(max_tps)
        self.response_timeout = response_timeout
        self.keepalive_interval = keepalive_interval
        self.connect_timeout = connect_timeout
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.throttle_backoff = throttle_backoff
        self.throttle_backoff_max = throttle_backoff_max
        self.max_attempts = max_attempts
        self.submit_deadline = submit_deadline
        self.on_inbound = on_inbound
        self.inbound: asyncio.Queue[Inbound] = asyncio.Queue(maxsize=100_000)
        self.assembler = Assembler(timeout=reassembly_timeout)
        self.stats = {"connects": 0, "throttled": 0, "timeouts": 0, "lost": 0, "keepalives": 0}
        self.last_error = ""

        self._slots = Window(self.window)
        self._pending: dict[Hashable, asyncio.Future[Any]] = {}
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()  # wakes submits waiting for a link when we close
        self._closing = False
        self._writer: asyncio.StreamWriter | None = None
        self._out: list[bytes] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._bound_once: asyncio.Future[None] | None = None
        self._last_rx = 0.0
        # Throttling answers pause the whole link, not just the refused request: the carrier
        # is saying the link is too fast. The pause doubles while throttling persists.
        self._pause_until = 0.0
        self._pause = 0.0
        self._bg: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- lifecycle
    async def start(self, wait: bool = True) -> None:
        """Start the link; with ``wait`` return once bound (or raise why the first bind failed)."""
        self._bound_once = asyncio.get_running_loop().create_future()
        # Mark a first-bind failure as seen even when nobody waits for it (wait=False).
        self._bound_once.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.link.name}-link")
        self._spawn(self._housekeeping())
        if wait:
            await asyncio.shield(self._bound_once)

    async def close(self) -> None:
        """Unbind cleanly (waiting briefly for the answer) and stop reconnecting."""
        self._closing = True
        self._closed.set()
        if self._ready.is_set():
            unbind = self.link.unbind_request()
            if unbind is not None:
                with contextlib.suppress(RequestFailed):
                    await self.request(unbind, timeout=min(self.response_timeout, 2.0))
        self._ready.clear()
        if self._writer is not None:
            self._writer.close()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
        for task in list(self._bg):
            task.cancel()

    async def __aenter__(self) -> CarrierClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def _supervise(self) -> None:
        delay = self.backoff_initial
        while not self._closing:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.connect_timeout
                )
            except (TimeoutError, OSError) as exc:
                self._note_failure(f"connect failed: {exc!r}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            self.stats["connects"] += 1
            self._writer = writer
            self._out = []
            reading = asyncio.create_task(self._read_loop(reader))
            try:
                await self._bind()
            except (RequestFailed, ProtocolError, OSError) as exc:
                self._note_failure(f"bind failed: {exc}")
                await self._teardown(writer, reading, f"bind failed: {exc}")
                if isinstance(exc, AuthenticationFailed) and self._first_bind_pending():
                    self._bound_once.set_exception(exc)  # type: ignore[union-attr]
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            self._ready.set()
            if self._first_bind_pending():
                self._bound_once.set_result(None)  # type: ignore[union-attr]
            keeping = asyncio.create_task(self._keepalive_loop())
            try:
                await asyncio.wait({reading}, return_when=asyncio.ALL_COMPLETED)
            finally:
                keeping.cancel()
                await self._teardown(writer, reading, "connection lost")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _housekeeping(self) -> None:
        """Give up on long messages whose missing parts never came (logged, then dropped)."""
        period = max(self.assembler.reassembler.timeout / 4, 0.05)
        while True:
            await asyncio.sleep(period)
            for item in self.assembler.expire():
                log.warning("%s: MO from %s incomplete after %ss: got parts %s of %s",
                            self.link.name, item.key[0], self.assembler.reassembler.timeout,
                            list(item.received), item.total)  # fmt: skip

    def _first_bind_pending(self) -> bool:
        return self._bound_once is not None and not self._bound_once.done()

    def _note_failure(self, reason: str) -> None:
        self.last_error = reason
        log.info("%s %s:%s %s", self.link.name, self.host, self.port, reason)

    async def _teardown(
        self, writer: asyncio.StreamWriter, reading: asyncio.Task, why: str
    ) -> None:
        self._ready.clear()
        self._writer = None
        writer.close()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reading
        self._fail_pending(why)

    async def _bind(self) -> None:
        request = self.link.bind_request()
        response = await self._exchange(request, self.response_timeout)
        self.link.check_bind(response, request)

    # ------------------------------------------------------------------ traffic
    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            await self._read_frames(reader)
        finally:
            # The link is dead: stop new writes first (submits queued for a window slot must
            # wait for the next link, not be written into this one), then fail the requests
            # on the wire now rather than at their timeout.
            self._ready.clear()
            self._fail_pending("connection lost")

    def _fail_pending(self, why: str) -> None:
        """Requests already on the wire have an unknown fate: fail them, never resend."""
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(RequestFailed(why, sent=True))

    async def _read_frames(self, reader: asyncio.StreamReader) -> None:
        buf = bytearray()
        link = self.link
        while True:
            data = await reader.read(65536)
            if not data:
                return
            self._last_rx = time.monotonic()
            buf += data
            try:
                frames = split_frames(buf, link.header_size, link.max_pdu)
            except ProtocolError as exc:
                self._note_failure(f"unframeable input, dropping link: {exc}")
                return
            for raw in frames:
                try:
                    pdu = link.decode(raw)
                except ProtocolError as exc:
                    self._note_failure(f"malformed PDU: {exc}")
                    reply = link.reject(raw, exc)
                    if reply is not None:
                        self._write(reply)
                    continue
                if link.is_response(pdu):
                    fut = self._pending.pop(link.key(pdu), None)
                    if fut is not None and not fut.done():
                        fut.set_result(pdu)
                    continue
                if not self._handle_request(pdu, raw):
                    return

    def _handle_request(self, pdu: Any, raw: bytes) -> bool:
        try:
            answer = self.link.answer(pdu)
        except ProtocolError as exc:
            self._note_failure(f"bad request body: {exc}")
            reply = self.link.reject(raw, exc)
            if reply is not None:
                self._write(reply)
            return True
        kept: Awaitable[Any] | bool = True
        if answer.part is not None:
            try:
                done = self.assembler.add(answer.part)
            except ProtocolError as exc:
                self._note_failure(f"undecodable MO text: {exc}")
                done = None
            if done is not None:
                kept = self._deliver(done)
        if answer.report is not None:
            kept = self._deliver(answer.report)
        # The carrier forgets a message once we acknowledge it, so the PDU that completes a
        # message is acknowledged only when the application has kept it; unacknowledged, the
        # carrier delivers it again on the next bind.
        if answer.response is not None:
            if kept is True:
                self._write(answer.response)
            elif kept is not False:
                self._spawn(self._acknowledge_when_kept(kept, answer.response))
        return not answer.close

    def _deliver(self, item: Inbound) -> Awaitable[Any] | bool:
        """Hand an item to the application: True when kept, False when it could not be,
        or an awaitable that completes once the application has kept it."""
        if self.on_inbound is not None:
            result = self.on_inbound(item)
            return asyncio.ensure_future(result) if inspect.isawaitable(result) else True
        try:
            self.inbound.put_nowait(item)
        except asyncio.QueueFull:
            self._note_failure("inbound queue full: left unacknowledged for the carrier to resend")
            return False
        return True

    async def _acknowledge_when_kept(self, kept: Awaitable[Any], response: Any) -> None:
        try:
            await kept
        except Exception as exc:  # noqa: BLE001 - reported; the carrier will deliver it again
            self._note_failure(f"inbound message not kept, left unacknowledged: {exc}")
            return
        with contextlib.suppress(RequestFailed):  # the link went: the carrier resends anyway
            self._write(response)

    def _write(self, pdu: Any) -> None:
        """Queue a PDU; everything queued in one loop iteration leaves in one send().

        On loopback a send() costs far more than encoding a PDU, so coalescing the requests
        a window releases together roughly halves the CPU per message.
        """
        if self._writer is None or self._writer.is_closing():
            raise RequestFailed("not connected", sent=False)
        self._out.append(self.link.encode(pdu))
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush, self._writer)

    def _flush(self, writer: asyncio.StreamWriter) -> None:
        data, self._out = b"".join(self._out), []
        if writer is self._writer and not writer.is_closing():
            writer.write(data)

    async def _exchange(self, pdu: Any, timeout: float) -> Any:
        """Send one request on the current link and wait for its response."""
        seq = self.link.next_sequence()
        pdu.sequence = seq
        key = self.link.key(pdu)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            self._write(pdu)
        except RequestFailed:
            self._pending.pop(key, None)
            raise
        timer = asyncio.get_running_loop().call_later(timeout, self._expire, key, fut, timeout)
        try:
            return await fut
        finally:
            timer.cancel()

    def _expire(self, key: Hashable, fut: asyncio.Future[Any], timeout: float) -> None:
        if self._pending.get(key) is fut:
            del self._pending[key]
        if not fut.done():
            self.stats["timeouts"] += 1
            fut.set_exception(RequestFailed(f"no response within {timeout:g}s", sent=True))

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval)
            if time.monotonic() - self._last_rx < self.keepalive_interval / 2:
                continue  # traffic already proves the link is alive
            probe = self.link.keepalive_request()
            if probe is None:
                continue
            try:
                await self.request(probe, timeout=self.response_timeout)
                self.stats["keepalives"] += 1
            except RequestFailed as exc:
                self._note_failure(f"keep-alive failed ({exc}); reconnecting")
                if self._writer is not None:
                    self._writer.close()
                return

    async def _wait_for_link(self, timeout: float) -> None:
        ready = asyncio.ensure_future(self._ready.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait(
                {ready, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            closed.cancel()
        if self._closed.is_set():
            raise RequestFailed("client closed", sent=False)
        if not self._ready.is_set():
            raise RequestFailed(
                f"not connected within {self.submit_deadline:g}s ({self.last_error})", sent=False
            )

    async def request(self, pdu: Any, timeout: float | None = None) -> Any:
        """Send any request within the window once bound; returns the response PDU."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.submit_deadline
        slots = self._slots
        while True:
            if self._closing and not self._ready.is_set():
                raise RequestFailed("client closed", sent=False)
            if not self._ready.is_set():
                await self._wait_for_link(max(0.0, deadline - loop.time()))
            if not slots.try_take():
                await slots.take()
            try:
                if not self._ready.is_set():
                    continue  # the link dropped while we queued for a slot
                if self._pause_until and (pause := self._pause_until - loop.time()) > 0:
                    await asyncio.sleep(pause)
                if self.pacer.interval:
                    await self.pacer.wait()
                # _exchange inlined: one coroutine frame fewer on every submit's way
                pdu.sequence = self.link.next_sequence()
                key = self.link.key(pdu)
                fut: asyncio.Future[Any] = loop.create_future()
                self._pending[key] = fut
                try:
                    self._write(pdu)
                except RequestFailed:
                    self._pending.pop(key, None)
                    continue  # not written (link vanished between checks): wait for the next
                wait = timeout or self.response_timeout
                timer = loop.call_later(wait, self._expire, key, fut, wait)
                try:
                    return await fut
                finally:
                    timer.cancel()
            finally:
                slots.give()

    def _throttled(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._pause_until:
            return  # answers to requests sent before the pause began: it already covers them
        self._pause = min(max(self._pause * 2, self.throttle_backoff), self.throttle_backoff_max)
        self._pause_until = now + self._pause

    async def submit_one(self, pdu: Any) -> tuple[bool, str, str, int, str]:
        """Submit one PDU: (ok, message id, failure reason, attempts, failure kind as in
        :class:`Outcome`).

        Throttled submits are retried until ``submit_deadline`` (or ``max_attempts``) runs
        out, so a carrier that is merely slow cannot fail a message that fits its rate.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.submit_deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.request(pdu)
            except RequestFailed as exc:
                self.stats["lost"] += 1
                return False, "", str(exc), attempt, "unknown" if exc.sent else "unsent"
            verdict = self.link.verdict(response)
            if verdict.status == OK:
                self._pause /= 2  # decay, not reset: the carrier's limit has not gone away
                return True, verdict.message_id, "", attempt, ""
            if verdict.status == FAILED:
                return False, "", verdict.reason, attempt, "refused"
            assert verdict.status == THROTTLED
            self.stats["throttled"] += 1
            self._throttled()  # refused, so the retry cannot duplicate it
            if loop.time() > give_up or (self.max_attempts and attempt >= self.max_attempts):
                # Every try was refused, so the carrier has none of them: safe to resend later.
                return False, "", f"still throttled after {attempt} attempts", attempt, "unsent"

    async def submit(self, msg: OutMessage) -> Outcome:
        """Send a text (split as needed); every call ends with a definite outcome."""
        try:
            pdus = self.link.submits(msg)
        except ProtocolError as exc:
            return Outcome(False, error=f"cannot encode: {exc}", failure="refused")
        if len(pdus) == 1:
            ok, mid, reason, attempts, failure = await self.submit_one(pdus[0])
            return Outcome(ok, [mid] if ok else [], reason, attempts, failure)
        results = await asyncio.gather(*(self.submit_one(p) for p in pdus))
        ids = [mid for ok, mid, *_ in results if ok]
        errors = [f"part {i}: {r}" for i, (ok, _, r, *_) in enumerate(results, 1) if not ok]
        attempts = max(r[3] for r in results)
        return Outcome(not errors, ids, "; ".join(errors), attempts, _failure_of(results))
