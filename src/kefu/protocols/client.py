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


class _Unwritten(Exception):
    """A queued request's link went before it was written: wait for the next link."""


class _Request:
    """One request from its caller's ``await`` to its response (or failure)."""

    __slots__ = ("deadline", "fut", "key", "pdu", "timeout")

    def __init__(self, pdu: Any, fut: asyncio.Future[Any], timeout: float) -> None:
        self.pdu = pdu
        self.fut = fut
        self.timeout = timeout
        self.key: Hashable = None
        self.deadline = 0.0  # loop time by which the response must come, once written


class Pacer:
    """Spaces sends ``1/tps`` apart; a burst never exceeds the configured rate."""

    def __init__(self, tps: float | None) -> None:
        self.interval = 1.0 / tps if tps else 0.0
        self._next = 0.0

    def delay(self, now: float) -> float:
        """0 and the send is booked, or how long to wait before asking again."""
        if now < self._next:
            return self._next - now
        self._next = now + self.interval
        return 0.0


class _Wire(asyncio.Protocol):
    """The socket's callbacks, straight into the client: no reader task in between."""

    def __init__(self, client: CarrierClient) -> None:
        self.client = client
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.client._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.client._wire_lost(self)


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
        # The slots one read frees are written in sends of this many PDUs: half a window
        # keeps both ends busy (the carrier works on one half while we encode the other)
        # for one extra send() per window, where one send per read leaves the carrier idle
        # while we encode and one per PDU costs a system call each.
        self.split = max(self.window // 2, 1)
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
        self.stats = {"connects": 0, "throttled": 0, "timeouts": 0, "lost": 0, "keepalives": 0,
                      "reads": 0, "writes": 0}  # fmt: skip
        self.last_error = ""

        # Requests written and not yet answered (at most ``window``), by their key; and the
        # requests waiting for a slot, in arrival order. A response frees its slot and the
        # next waiting request is written in the same callback that read the response, so
        # the carrier never waits on a loop turn of ours to get its next PDU.
        self._pending: dict[Hashable, _Request] = {}
        self._queue: collections.deque[_Request] = collections.deque()
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()  # wakes submits waiting for a link when we close
        self._closing = False
        self._wire: _Wire | None = None
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._reading = False  # inside _received: what it writes leaves in one send at its end
        self._pump_timer: asyncio.TimerHandle | None = None
        # One timer for the earliest deadline among the requests on the wire, not one per
        # request: arming and cancelling a timer per submit was a visible share of its CPU.
        self._expiry: asyncio.TimerHandle | None = None
        self._expiry_at = 0.0
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
        if self._transport is not None:
            self._transport.close()
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

    @property
    def in_flight(self) -> int:
        """Requests written and not yet answered (never more than ``window``)."""
        return len(self._pending)

    @property
    def queued(self) -> int:
        """Requests waiting for a window slot (or for pacing / a throttling pause)."""
        return len(self._queue)

    async def _open(self) -> tuple[asyncio.Transport, _Wire]:
        loop = asyncio.get_running_loop()
        transport, wire = await loop.create_connection(lambda: _Wire(self), self.host, self.port)
        return transport, wire  # type: ignore[return-value]

    async def _supervise(self) -> None:
        delay = self.backoff_initial
        while not self._closing:
            try:
                transport, wire = await asyncio.wait_for(self._open(), self.connect_timeout)
            except (TimeoutError, OSError) as exc:
                self._note_failure(f"connect failed: {exc!r}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            self.stats["connects"] += 1
            self._wire, self._transport = wire, transport
            self._buf = bytearray()
            self._out = []
            try:
                await self._bind()
            except (RequestFailed, ProtocolError, OSError) as exc:
                self._note_failure(f"bind failed: {exc}")
                self._teardown(transport, f"bind failed: {exc}")
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
                await wire.lost
            finally:
                keeping.cancel()
                self._teardown(transport, "connection lost")

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

    def _teardown(self, transport: asyncio.Transport, why: str) -> None:
        self._link_down(why)
        if self._transport is transport:
            self._wire, self._transport = None, None
        transport.close()

    def _link_down(self, why: str) -> None:
        """The link is dead: stop new writes first (requests queued for a slot wait for the
        next link, never written into this one), then fail the requests on the wire now
        rather than at their timeout."""
        self._ready.clear()
        if self._pump_timer is not None:
            self._pump_timer.cancel()
            self._pump_timer = None
        self._fail_pending(why)
        queued, self._queue = self._queue, collections.deque()
        for req in queued:
            if not req.fut.done():
                req.fut.set_exception(_Unwritten())

    def _drop_link(self, wire: _Wire) -> None:
        """Close the link from our side (the peer unbound, or its bytes cannot be framed)."""
        if wire is not self._wire:
            return
        self._link_down("connection lost")
        if self._transport is not None:
            self._transport.close()  # after what is buffered, e.g. the answer to an unbind
        if not wire.lost.done():
            wire.lost.set_result(None)  # the supervisor reconnects without waiting for it

    def _wire_lost(self, wire: _Wire) -> None:
        if wire is self._wire:
            self._link_down("connection lost")

    async def _bind(self) -> None:
        request = self.link.bind_request()
        response = await self._exchange(request, self.response_timeout)
        self.link.check_bind(response, request)

    # ------------------------------------------------------------------ traffic
    def _fail_pending(self, why: str) -> None:
        """Requests already on the wire have an unknown fate: fail them, never resend."""
        pending, self._pending = self._pending, {}
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for req in pending.values():
            if not req.fut.done():
                req.fut.set_exception(RequestFailed(why, sent=True))

    def _received(self, wire: _Wire, data: bytes) -> None:
        """Everything one read brought: answers settle their requests, the slots they free
        go at once to the requests waiting for one, and all that leaves in one send()."""
        if wire is not self._wire:
            return  # the tail of a link we already gave up
        self._last_rx = time.monotonic()
        self.stats["reads"] += 1
        link = self.link
        buf = self._buf
        buf += data
        try:
            frames = split_frames(buf, link.header_size, link.max_pdu)
        except ProtocolError as exc:
            self._note_failure(f"unframeable input, dropping link: {exc}")
            self._drop_link(wire)
            return
        pending = self._pending
        self._reading = True
        try:
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
                    req = pending.pop(link.key(pdu), None)
                    if req is not None and not req.fut.done():
                        req.fut.set_result(pdu)
                    continue
                if not self._handle_request(pdu, raw):
                    self._flush()  # the answer to the unbind leaves before we close
                    self._drop_link(wire)
                    return
            if self._queue:
                self._pump(self.split)
        finally:
            self._reading = False
        self._flush()

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
        a window releases together roughly halves the CPU per message. Inside
        :meth:`_received` the send happens at its end, in the same callback.
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            raise RequestFailed("not connected", sent=False)
        out = self._out
        out.append(self.link.encode(pdu))
        if len(out) == 1 and not self._reading:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        out = self._out
        if not out:
            return  # already sent by _received, or a link's close path
        self._out = []
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            self.stats["writes"] += 1

    def _send(self, req: _Request) -> None:
        """Write a request now (raises RequestFailed when there is no link to write to)."""
        pdu = req.pdu
        pdu.sequence = self.link.next_sequence()
        req.key = self.link.key(pdu)
        self._write(pdu)
        self._pending[req.key] = req
        req.deadline = deadline = asyncio.get_running_loop().time() + req.timeout
        if self._expiry is None or deadline < self._expiry_at:
            self._arm_expiry(deadline)

    def _arm_expiry(self, when: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry_at = when
        self._expiry = asyncio.get_running_loop().call_at(when, self._expire_due)

    def _expire_due(self) -> None:
        """Fail the requests whose deadline passed; re-arm for the earliest one left."""
        self._expiry = None
        pending = self._pending
        if not pending:
            return
        now = asyncio.get_running_loop().time()
        late = [req for req in pending.values() if req.deadline <= now]
        for req in late:
            del pending[req.key]
            if not req.fut.done():
                self.stats["timeouts"] += 1
                reason = f"no response within {req.timeout:g}s"
                req.fut.set_exception(RequestFailed(reason, sent=True))
        if pending:
            self._arm_expiry(min(req.deadline for req in pending.values()))
        if late and self._queue:
            self._pump()

    def _hold(self) -> float:
        """0 when a request may be written now (booking its pacing slot), else how long the
        throttling pause or the pacing still holds the link."""
        if not self._pause_until and not self.pacer.interval:
            return 0.0
        now = asyncio.get_running_loop().time()
        if self._pause_until:
            if self._pause_until > now:
                return self._pause_until - now
            self._pause_until = 0.0  # the pause is over
        if self.pacer.interval:
            return self.pacer.delay(now)
        return 0.0

    def _pump(self, split: int = 0) -> None:
        """Write waiting requests while the window has room and nothing holds the link;
        with ``split``, send each time that many are waiting to leave."""
        queue, pending, window = self._queue, self._pending, self.window
        while queue and len(pending) < window and self._ready.is_set():
            if split and len(self._out) >= split:
                self._flush()
            req = queue[0]
            if req.fut.done():
                queue.popleft()  # its caller stopped waiting (cancelled) before it was sent
                continue
            hold = self._hold()
            if hold:
                self._pump_later(hold)
                return
            queue.popleft()
            try:
                self._send(req)
            except RequestFailed:
                queue.appendleft(req)  # the link is closing: its teardown re-queues it
                return

    def _pump_later(self, delay: float) -> None:
        if self._pump_timer is None:
            self._pump_timer = asyncio.get_running_loop().call_later(delay, self._pump_due)

    def _pump_due(self) -> None:
        self._pump_timer = None
        self._pump()

    async def _exchange(self, pdu: Any, timeout: float) -> Any:
        """Send one request on the current link (outside the window) and wait for its
        response: the bind, before any submit may go."""
        req = _Request(pdu, asyncio.get_running_loop().create_future(), timeout)
        self._send(req)
        return await req.fut

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
                if self._wire is not None:
                    self._drop_link(self._wire)
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
        wait = timeout or self.response_timeout
        while True:
            if not self._ready.is_set():
                if self._closing:
                    raise RequestFailed("client closed", sent=False)
                await self._wait_for_link(max(0.0, deadline - loop.time()))
            req = _Request(pdu, loop.create_future(), wait)
            if self._queue or len(self._pending) >= self.window:
                self._queue.append(req)  # written by whoever frees the slot it waits for
            elif hold := self._hold():
                self._queue.append(req)
                self._pump_later(hold)
            else:
                try:
                    self._send(req)
                except RequestFailed:
                    self._queue.append(req)  # the link is closing: its teardown re-queues it
            try:
                return await req.fut
            except _Unwritten:
                continue  # the link went before it was written: wait for the next one

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
