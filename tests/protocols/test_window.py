"""The client's window kept full: a response frees its slot and the next waiting submit is
written in the same callback that read the response (in sends of half a window), so the
carrier never waits on a turn of our event loop for its next PDU.

Between the client and the simulator sits a relay the test drives by hand on plain
non-blocking sockets: it holds the simulator's answers, releases a batch of them in one
send(), and counts the loop turns until the client's next submits reach it. Every protocol,
through the shared client code.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from kefu.protocols.framing import split_frames
from kefu.protocols.message import OutMessage
from kefu.protocols.simulator import RESPONSE_BIT

from .conftest import Pair, make_client

WINDOW = 10


class Relay:
    """Forwards bytes between the client and the simulator only when told to."""

    def __init__(self, header_size: int, max_pdu: int) -> None:
        self.limits = (header_size, max_pdu)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.client: socket.socket | None = None
        self.carrier: socket.socket | None = None
        self.from_client = bytearray()
        self.from_carrier = bytearray()
        self.held: list[bytes] = []  # the carrier's frames not yet passed to the client
        self.submits = 0  # requests the client has written (all of them submits once bound)
        self.answered = 0  # responses passed to the client

    def connect(self, carrier_port: int) -> None:
        with contextlib.suppress(BlockingIOError):
            self.client, _ = self.listener.accept()
            self.client.setblocking(False)
            self.carrier = socket.create_connection(("127.0.0.1", carrier_port))
            self.carrier.setblocking(False)

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        try:
            return sock.recv(1 << 20)
        except BlockingIOError:
            return b""

    def client_frames(self) -> list[bytes]:
        """What the client wrote since the last call (not forwarded yet)."""
        assert self.client is not None
        data = self._recv(self.client)
        if not data:
            return []
        self.from_client += data
        frames = split_frames(self.from_client, *self.limits)
        self.submits += sum(not is_response(f) for f in frames)
        return frames

    def to_carrier(self, frames: list[bytes]) -> None:
        assert self.carrier is not None
        if frames:
            self.carrier.sendall(b"".join(frames))

    def carrier_frames(self) -> None:
        assert self.carrier is not None
        self.from_carrier += self._recv(self.carrier)
        self.held += split_frames(self.from_carrier, *self.limits)

    def release(self, count: int | None = None) -> int:
        """Pass ``count`` held frames (all by default) to the client in one send()."""
        assert self.client is not None
        count = len(self.held) if count is None else count
        batch, self.held = self.held[:count], self.held[count:]
        self.answered += sum(is_response(f) for f in batch)
        self.client.sendall(b"".join(batch))
        return len(batch)

    def close(self) -> None:
        for sock in (self.client, self.carrier, self.listener):
            if sock is not None:
                sock.close()


def is_response(frame: bytes) -> bool:
    return bool(int.from_bytes(frame[4:8], "big") & RESPONSE_BIT)


async def until(check, turns: int = 5000) -> None:  # noqa: ANN001 - a predicate
    """Let the loop run (client and simulator alike) until ``check()`` holds."""
    for _ in range(turns):
        if check():
            return
        await asyncio.sleep(0 if _ < 1000 else 0.001)
    raise AssertionError("condition not met")


async def test_a_freed_slot_is_refilled_in_the_callback_that_read_the_answer(pair: Pair):
    sim = await pair.start_sim()
    relay = Relay(sim.header_size, sim.max_pdu)
    try:
        await _refill_in_the_same_callback(pair, sim, relay)
    finally:
        relay.close()


async def _refill_in_the_same_callback(pair: Pair, sim, relay: Relay) -> None:  # noqa: ANN001
    client = make_client(pair.protocol, relay.port, None, window=WINDOW, response_timeout=30)
    pair.clients.append(client)
    starting = asyncio.create_task(client.start())

    async def pass_through() -> None:
        relay.connect(sim.port)
        if relay.client is not None:
            relay.to_carrier(relay.client_frames())
            relay.carrier_frames()
            relay.release()

    while not starting.done():  # the bind goes through unhindered
        await pass_through()
        await asyncio.sleep(0.001)
    await starting
    relay.submits = relay.answered = 0

    todo = iter(range(WINDOW * 8))
    outcomes = []

    async def caller() -> None:  # like the outbox's senders: submit, await, submit again
        for i in todo:
            outcomes.append(
                await client.submit(OutMessage(f"1380013{i:04d}", "窗口", want_report=False))
            )

    callers = [asyncio.create_task(caller()) for _ in range(WINDOW * 2)]
    in_transit: list[bytes] = []

    def collect() -> bool:
        in_transit.extend(relay.client_frames())
        return len(in_transit) == WINDOW

    await until(collect)
    for _ in range(5):
        # the callers whose submits were answered have queued their next ones
        await until(lambda: client.queued == WINDOW)
        assert relay.submits - relay.answered == WINDOW == client.in_flight  # the window is full
        relay.to_carrier(in_transit)
        in_transit.clear()

        def answered() -> bool:
            relay.carrier_frames()
            return len(relay.held) == WINDOW

        await until(answered)
        writes = client.stats["writes"]
        relay.release()  # ten answers in one segment
        # One turn for the selector to report the socket readable, whose callback reads the
        # answers and writes the next ten before this task runs again; a client that hands
        # freed slots on through tasks and futures takes several turns more.
        for _ in range(2):
            await asyncio.sleep(0)
        in_transit.extend(relay.client_frames())
        assert len(in_transit) == WINDOW, f"{len(in_transit)} submits after two loop turns"
        # in two send()s of half a window: the carrier starts on the first half while we
        # encode the second, instead of idling until all ten are ready
        assert client.stats["writes"] == writes + 2
        assert client.in_flight == WINDOW

    # let everything finish: nothing lost, nothing duplicated, never more than the window
    relay.to_carrier(in_transit)

    async def drain() -> bool:
        relay.to_carrier(relay.client_frames())
        relay.carrier_frames()
        relay.release()
        assert client.in_flight <= WINDOW
        return all(task.done() for task in callers)

    for _ in range(20000):
        if await drain():
            break
        await asyncio.sleep(0 if _ < 5000 else 0.001)
    await asyncio.gather(*callers)
    assert len(outcomes) == WINDOW * 8 and all(o.ok for o in outcomes), [
        o for o in outcomes if not o.ok
    ][:3]
    assert relay.submits == WINDOW * 8 == sim.stats["submits"]


async def test_a_cancelled_caller_neither_leaks_a_slot_nor_takes_one(pair: Pair):
    sim = await pair.start_sim(response_delay=0.05)
    client = await pair.client(window=1)
    first = asyncio.create_task(client.submit(OutMessage("13800138000", "一", want_report=False)))
    await asyncio.sleep(0)
    assert client.in_flight == 1
    waiting = asyncio.create_task(client.submit(OutMessage("13800138001", "二", want_report=False)))
    third = asyncio.create_task(client.submit(OutMessage("13800138002", "三", want_report=False)))
    await asyncio.sleep(0)
    assert client.queued == 2
    waiting.cancel()  # gives up while queued for the slot: it is never written
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await first).ok and (await third).ok
    assert sim.stats["submits"] == 2 and client.in_flight == 0 and client.queued == 0
    # a caller cancelled after its submit was written keeps the slot until the answer
    fourth = asyncio.create_task(client.submit(OutMessage("13800138003", "四", want_report=False)))
    await asyncio.sleep(0)
    fourth.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fourth
    assert client.in_flight == 1
    assert (await client.submit(OutMessage("13800138004", "五", want_report=False))).ok
    assert sim.stats["submits"] == 4 and client.in_flight == 0
