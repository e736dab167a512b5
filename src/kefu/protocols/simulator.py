"""The carrier side (SMSC / ISMG / SMG) as a test double, shared by every protocol.

A simulator authenticates one account, acknowledges submits with ids, reassembles the texts
it receives (readable through :meth:`CarrierSimulator.mt_for`), sends status reports after
``report_delay`` seconds (a ``failure_ratio`` share of them failed), enforces a throughput
and a window limit by answering with the protocol's throttling status, and injects
mobile-originated messages. Faults for tests: :meth:`drop_connections`, ``response_delay``,
stop/start on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ProtocolError
from .framing import peer_host, split_frames
from .message import Assembler, Part

log = logging.getLogger(__name__)

# Every protocol here marks a response by the top bit of its command id.
RESPONSE_BIT = 0x80000000


def id_text(message_id: Any) -> str:
    """The printable form of a message id (SMGP's are 10 binary BCD octets)."""
    return message_id.hex() if isinstance(message_id, bytes) else str(message_id)


@dataclass
class SimulatorConfig:
    username: str
    password: str
    host: str = "127.0.0.1"
    port: int = 0
    report_delay: float = 0.5
    failure_ratio: float = 0.0
    max_tps: float | None = None  # None: unlimited
    window: int | None = None  # max submits awaiting our answer per link; None: unlimited
    response_delay: float = 0.0
    seed: int | None = None
    mt_keep: int = 1000  # messages remembered per phone
    # A connection that has not bound (a valid bind/connect/login) within this many seconds is
    # closed; None waits forever. Idle unbound sockets cost a file descriptor and a task each.
    bind_timeout: float | None = 10.0
    # At most this many not-yet-bound connections per peer address; the next one is closed at
    # once. Bound links are not counted: an SP legitimately keeps several.
    max_unbound_per_address: int | None = 32


@dataclass
class MtMessage:
    """A mobile-terminated message as the handset would see it (reassembled, decoded)."""

    source: str
    to: str
    text: str
    parts: int
    message_ids: list[str]
    report: str = ""  # the stat sent back, once sent

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("source")
        return data


@dataclass
class Submitted:
    """One accepted submit PDU, remembered until its report is sent."""

    message_id: Any
    source: str
    dest: str
    session: ServerSession
    want_report: bool
    submit_time: float = field(default_factory=time.time)
    extra: Any = None


class TokenBucket:
    """Throughput limit: ``rate`` per second with a one-second burst."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.tokens = rate or 0.0
        self.stamp = time.monotonic()

    def take(self) -> bool:
        if not self.rate:
            return True
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ServerSession:
    """One accepted TCP connection on the simulator."""

    def __init__(
        self, sim: CarrierSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.sim = sim
        self.reader, self.writer = reader, writer
        self.bound = False
        self.can_receive = False
        self.outstanding = 0
        # Requests we sent (deliveries, reports) that the SP has not acknowledged yet: a real
        # SMSC keeps them and delivers them again when the SP binds next.
        self.unacked: dict[Any, Any] = {}
        self._out: list[bytes] = []
        self._seq = 0
        self.peer = peer_host(writer)
        # The protocol version this link speaks, for servers that speak several (CMPP 3.0
        # gateways accept 2.0 clients); None until the bind settles it.
        self.dialect: Any = None

    def next_sequence(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def send(self, pdu: Any) -> None:
        """Queue a PDU; the answers to one read leave together in one send()."""
        self._out.append(self.sim.encode_for(self, pdu))
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def deliver(self, pdu: Any) -> None:
        """Send a request of ours (a delivery or a report), kept until acknowledged."""
        pdu.sequence = self.next_sequence()
        self.unacked[pdu.sequence] = pdu
        self.send(pdu)

    def _flush(self) -> None:
        if not self._out:
            return  # already flushed by a close path
        data, self._out = b"".join(self._out), []
        if not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, pdu: Any, counted: bool = False) -> None:
        """Answer now, or after the configured response delay."""
        delay = self.sim.config.response_delay
        if not delay:
            self.send(pdu)
            return
        if counted:
            self.outstanding += 1
            stats = self.sim.stats
            stats["max_outstanding"] = max(stats["max_outstanding"], self.outstanding)

        def later() -> None:
            if counted:
                self.outstanding -= 1
            self.send(pdu)

        asyncio.get_running_loop().call_later(delay, later)

    def close(self) -> None:
        self.writer.close()

    async def _read(self, deadline: float | None) -> bytes:
        """The next chunk; before the bind, only until ``deadline`` (then TimeoutError)."""
        if self.bound or deadline is None:
            return await self.reader.read(65536)
        async with asyncio.timeout_at(deadline):
            return await self.reader.read(65536)

    async def run(self) -> None:
        buf = bytearray()
        sim = self.sim
        limit = sim.config.bind_timeout
        # Measured from accept, not from the last byte: trickling garbage does not keep it open.
        deadline = None if limit is None else asyncio.get_running_loop().time() + limit
        try:
            while True:
                try:
                    data = await self._read(deadline)
                except TimeoutError:
                    sim.stats["bind_timeouts"] += 1
                    log.info("%s: no bind within %ss, closing", sim.protocol, limit)
                    return
                if not data:
                    return
                buf += data
                try:
                    frames = split_frames(buf, sim.header_size, sim.max_pdu)
                except ProtocolError as exc:
                    log.info("%s: unframeable input, closing: %s", sim.protocol, exc)
                    return
                for raw in frames:
                    try:
                        pdu = sim.decode_for(self, raw)
                    except ProtocolError as exc:
                        sim.stats["malformed"] += 1
                        reply = sim.reject_for(self, raw, exc)
                        if reply is not None:
                            self.send(reply)
                        continue
                    if pdu.command_id & RESPONSE_BIT:
                        self.unacked.pop(pdu.sequence, None)
                    if not await sim.handle(self, pdu):
                        self._flush()  # the unbind answer must leave before we close
                        await self.writer.drain()
                        return
                await self.writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            self._flush()
            self.writer.close()
            sim.sessions.discard(self)
            if self.unacked:
                sim.pending_mo.extendleft(reversed(list(self.unacked.values())))
                self.unacked.clear()


class CarrierSimulator(ABC):
    """Protocol-neutral server machinery; subclasses implement the PDU handling."""

    protocol: str
    header_size: int
    max_pdu: int

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.bucket = TokenBucket(config.max_tps)
        self.assembler = Assembler()
        self.mt: dict[str, deque[MtMessage]] = {}
        self.sessions: set[ServerSession] = set()
        self.pending_mo: deque[Any] = deque()  # waiting for a receiver to bind
        self.stats = {"submits": 0, "throttled": 0, "reports": 0, "mo": 0, "malformed": 0,
                      "binds": 0, "auth_failures": 0, "max_outstanding": 0, "bind_timeouts": 0,
                      "refused_connections": 0}  # fmt: skip
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --------------------------------------------------------------- codec hooks
    @abstractmethod
    def encode(self, pdu: Any) -> bytes: ...

    @abstractmethod
    def decode(self, raw: bytes) -> Any: ...

    @abstractmethod
    async def handle(self, session: ServerSession, pdu: Any) -> bool:
        """Process one request; return False to close the session."""

    @abstractmethod
    def reject(self, raw: bytes, error: Exception) -> Any | None: ...

    @abstractmethod
    def mo_pdus(self, source: str, dest: str, text: str) -> list[Any]: ...

    @abstractmethod
    def report_pdu(self, item: Submitted, stat: str) -> Any: ...

    # A link may speak an older version than the simulator's own (CMPP 2.0 on a 3.0 gateway):
    # sessions go through these, which a multi-version simulator overrides.
    def decode_for(self, session: ServerSession, raw: bytes) -> Any:
        return self.decode(raw)

    def encode_for(self, session: ServerSession, pdu: Any) -> bytes:
        return self.encode(pdu)

    def reject_for(self, session: ServerSession, raw: bytes, error: Exception) -> Any | None:
        return self.reject(raw, error)

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.config.host, self.config.port, reuse_address=True
        )
        self.config.port = self.port  # a restart reuses the same port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> CarrierSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def drop_connections(self) -> None:
        """Fault injection: cut every link without an unbind."""
        for session in list(self.sessions):
            transport = session.writer.transport
            transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cap = self.config.max_unbound_per_address
        peer = peer_host(writer)
        if cap is not None:
            waiting = sum(1 for s in self.sessions if not s.bound and s.peer == peer)
            if waiting >= cap:
                self.stats["refused_connections"] += 1
                log.info("%s: %d unbound connections from %s, refusing", self.protocol,
                         waiting, peer)  # fmt: skip
                writer.transport.abort()
                return
        session = ServerSession(self, reader, writer)
        self.sessions.add(session)
        await session.run()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------- shared logic
    def authenticate(self, username: str, password: str) -> bool:
        ok = username == self.config.username and password == self.config.password
        self.stats["binds" if ok else "auth_failures"] += 1
        return ok

    def admit(self, session: ServerSession) -> bool:
        """Whether a submit may be accepted now (throughput and window limits)."""
        window = self.config.window
        if (window is not None and session.outstanding >= window) or not self.bucket.take():
            self.stats["throttled"] += 1
            return False
        return True

    def accepted(self, part: Part, item: Submitted) -> None:
        """Record an accepted submit: reassemble its text and schedule its report."""
        self.stats["submits"] += 1
        part.message_id = part.message_id or id_text(item.message_id)
        try:
            done = self.assembler.add(part)
        except ProtocolError as exc:
            log.info("%s: undecodable MT text: %s", self.protocol, exc)
            done = None
        if done is not None:
            box = self.mt.setdefault(done.dest, deque(maxlen=self.config.mt_keep))
            box.append(MtMessage(done.source, done.dest, done.text, done.parts, done.message_ids))
        if item.want_report:
            asyncio.get_running_loop().call_later(
                self.config.report_delay, lambda: self.spawn(self._send_report(item))
            )

    async def _send_report(self, item: Submitted) -> None:
        failed = self.rng.random() < self.config.failure_ratio
        stat = "UNDELIV" if failed else "DELIVRD"
        for box in self.mt.get(item.dest) or ():
            if id_text(item.message_id) in box.message_ids:
                box.report = stat
        await self.deliver_to_sp([self.report_pdu(item, stat)], prefer=item.session)
        self.stats["reports"] += 1

    async def deliver_to_sp(self, pdus: list[Any], prefer: ServerSession | None = None) -> bool:
        """Send requests to a receiving session; queue them if none is bound."""
        target = prefer if prefer in self.sessions and prefer.can_receive else None
        if target is None:
            target = next((s for s in self.sessions if s.bound and s.can_receive), None)
        if target is None:
            self.pending_mo.extend(pdus)
            return False
        for pdu in pdus:
            target.deliver(pdu)
        return True

    def flush_pending(self, session: ServerSession) -> None:
        """A receiver just bound: hand it whatever waited."""
        while self.pending_mo and session.can_receive:
            session.deliver(self.pending_mo.popleft())

    async def inject_mo(self, source: str, dest: str, text: str) -> int:
        """Send a mobile-originated text to the SP; returns the number of parts."""
        pdus = self.mo_pdus(source, dest, text)
        await self.deliver_to_sp(pdus)
        self.stats["mo"] += 1
        return len(pdus)

    def mt_for(self, phone: str) -> list[MtMessage]:
        return list(self.mt.get(phone, ()))
