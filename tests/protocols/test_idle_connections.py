"""Issue 21: connections that never bind are closed (simulators and the SGIP listener), bound
ones are kept, and a crowd of idle sockets neither stays open nor keeps a real SP out."""

from __future__ import annotations

import asyncio
import socket
import time

from kefu.protocols.message import Inbound, OutMessage
from kefu.protocols.sgip import SgipReceiver, SgipSimulator
from kefu.protocols.simulator import SimulatorConfig

from .conftest import CREDENTIALS, Pair, eventually

TIMEOUT = 0.3
PHONE = "13800138000"


async def _closed_after(port: int, payload: bytes = b"") -> float:
    """Open a raw socket (sending ``payload``, not a bind) and time until the server closes it."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if payload:
        writer.write(payload)
    try:
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert data == b""
    return time.monotonic() - started


async def test_an_idle_connection_is_closed_after_the_bind_timeout(pair: Pair):
    sim = await pair.start_sim(bind_timeout=TIMEOUT)
    elapsed = await _closed_after(sim.port)
    assert TIMEOUT * 0.8 <= elapsed < 3
    assert sim.stats["bind_timeouts"] == 1
    assert not sim.sessions


async def test_trickled_bytes_do_not_extend_the_deadline(pair: Pair):
    sim = await pair.start_sim(bind_timeout=TIMEOUT)
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    started = time.monotonic()
    closed = asyncio.create_task(reader.read())
    # One octet every 50 ms, for up to 3 s, of a frame that never completes: a timeout that
    # restarted on every read would never fire.
    for octet in b"\x00\x00\x00\x40" + b"\x00" * 56:
        if closed.done():
            break
        try:
            writer.write(bytes([octet]))
            await writer.drain()
        except ConnectionError:
            break
        await asyncio.sleep(0.05)
    try:
        data = await asyncio.wait_for(closed, 5)
    except ConnectionError:  # a byte written after the close: reset instead of end of file
        data = b""
    elapsed = time.monotonic() - started
    writer.close()
    assert data == b"" and elapsed < 2.5
    assert sim.stats["bind_timeouts"] == 1


async def test_a_bound_link_outlives_the_bind_timeout(pair: Pair):
    sim = await pair.start_sim(bind_timeout=TIMEOUT)
    client = await pair.client()
    await asyncio.sleep(TIMEOUT * 4)
    out = await client.submit(OutMessage(PHONE, "still here", source="95511"))
    assert out.ok
    assert sim.stats["bind_timeouts"] == 0
    assert sim.stats["binds"] == 1  # the same link, not a reconnect


async def test_many_idle_connections_do_not_lock_out_a_real_sp(pair: Pair):
    sim = await pair.start_sim(bind_timeout=0.6, max_unbound_per_address=16)
    socks = []
    for _ in range(200):
        s = socket.socket()
        s.setblocking(False)
        await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", sim.port))
        socks.append(s)
    try:
        await eventually(lambda: sim.stats["refused_connections"] >= 200 - 16)
        assert len(sim.sessions) <= 16
        client = await pair.client()  # a real SP still gets in while the crowd waits
        assert (await client.submit(OutMessage(PHONE, "hello", source="95511"))).ok
        await eventually(lambda: sim.stats["bind_timeouts"] == 16, timeout=5)
        assert all(s.bound for s in sim.sessions)
    finally:
        for s in socks:
            s.close()


async def test_the_sgip_listener_closes_idle_connections_and_keeps_the_smg():
    got: list[Inbound] = []
    user, secret = CREDENTIALS["sgip"]
    receiver = SgipReceiver(user, secret, got.append, bind_timeout=TIMEOUT)
    await receiver.start()
    sim = SgipSimulator(SimulatorConfig(user, secret), deliver_to=("127.0.0.1", receiver.port))
    await sim.start()
    try:
        elapsed = await _closed_after(receiver.port, b"\x00\x00")
        assert TIMEOUT * 0.8 <= elapsed < 3
        await sim.inject_mo(PHONE, "95511", "first")
        await eventually(lambda: len(got) == 1)
        await asyncio.sleep(TIMEOUT * 4)  # the SMG's bound link outlives the bind timeout
        await sim.inject_mo(PHONE, "95511", "second")
        await eventually(lambda: len(got) == 2)
        assert sim.reverse is not None and sim.reverse.stats["connects"] == 1
    finally:
        await sim.stop()
        await receiver.stop()


async def test_the_sgip_listener_caps_unbound_connections_per_address():
    user, secret = CREDENTIALS["sgip"]
    receiver = SgipReceiver(user, secret, lambda m: None, bind_timeout=5, max_unbound_per_address=4)
    await receiver.start()
    conns = [await asyncio.open_connection("127.0.0.1", receiver.port) for _ in range(10)]
    try:
        closed = 0
        for reader, _ in conns:
            try:
                if await asyncio.wait_for(reader.read(), 0.2) == b"":
                    closed += 1
            except (TimeoutError, ConnectionError):
                pass
        assert closed == 6
    finally:
        for _, writer in conns:
            writer.close()
        await receiver.stop()
