"""Issue 21: a CMPP 3.0 gateway answers a 2.0 client in the 2.0 layout (and a 2.0 gateway
refuses a 3.0 client with Status 4 in its own layout). The raw-socket tests read the answer
with ``struct`` by the spec's field table, independently of kefu's codec."""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest

from kefu.protocols import cmpp
from kefu.protocols.auth import cmpp_authenticator_source
from kefu.protocols.cmpp import CmppSimulator
from kefu.protocols.errors import AuthenticationFailed
from kefu.protocols.message import OutMessage
from kefu.protocols.simulator import SimulatorConfig

USER, SECRET = "900001", "888888"
PHONE = "13800138000"
LONG = "尊敬的客户，您的信用卡3月账单金额为人民币1,234.56元，最后还款日为4月25日。" * 2


def _config() -> SimulatorConfig:
    return SimulatorConfig(USER, SECRET, report_delay=0.05, seed=1)


async def _raw_connect(port: int, version: int) -> bytes:
    """Send CMPP_CONNECT by hand and return the whole CONNECT_RESP."""
    ts = 1206043000
    auth = cmpp_authenticator_source(USER, SECRET, ts)
    body = USER.encode() + auth + bytes([version]) + struct.pack(">I", ts)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(struct.pack(">III", 12 + len(body), 0x00000001, 7) + body)
        head = await asyncio.wait_for(reader.readexactly(12), 5)
        total = struct.unpack(">I", head[:4])[0]
        return head + await asyncio.wait_for(reader.readexactly(total - 12), 5)
    finally:
        writer.close()


async def test_a_3_0_gateway_answers_a_2_0_connect_in_the_2_0_layout():
    async with CmppSimulator(_config(), version=3) as sim:
        resp = await _raw_connect(sim.port, 0x20)
    # 2.0 CONNECT_RESP: header 12 + Status 1 + AuthenticatorISMG 16 + Version 1 = 30 octets
    total, command, seq = struct.unpack(">III", resp[:12])
    assert (total, len(resp), command, seq) == (30, 30, 0x80000001, 7)
    status, auth, version = resp[12], resp[13:29], resp[29]
    assert (status, version) == (0, 0x20)
    source = cmpp_authenticator_source(USER, SECRET, 1206043000)
    assert auth == hashlib.md5(bytes([0]) + source + SECRET.encode()).digest()


async def test_a_3_0_gateway_still_answers_3_0_in_the_3_0_layout():
    async with CmppSimulator(_config(), version=3) as sim:
        resp = await _raw_connect(sim.port, 0x30)
    total, command, _ = struct.unpack(">III", resp[:12])
    assert (total, command) == (33, 0x80000001)  # Status is 4 octets in 3.0
    assert struct.unpack(">I", resp[12:16])[0] == 0 and resp[32] == 0x30


async def test_a_2_0_gateway_refuses_a_3_0_connect_with_status_4_in_its_layout():
    async with CmppSimulator(_config(), version=2) as sim:
        resp = await _raw_connect(sim.port, 0x30)
        assert len(resp) == 30 and resp[12] == 4  # 版本太高
        assert sim.stats["binds"] == 0


async def test_an_unknown_old_version_is_refused():
    async with CmppSimulator(_config(), version=3) as sim:
        resp = await _raw_connect(sim.port, 0x12)
        assert len(resp) == 33 and struct.unpack(">I", resp[12:16])[0] == 5  # 其他错误


async def _exchange(sim: CmppSimulator, version: int) -> None:
    """Submit (short and long), get the report and an MO, all through kefu's own client."""
    client = cmpp.client("127.0.0.1", sim.port, USER, SECRET, version=version)
    await client.start()
    try:
        short = await client.submit(OutMessage(PHONE, "Balance: 100.00", source="95511"))
        long = await client.submit(OutMessage(PHONE, LONG, source="95511", want_report=False))
        assert short.ok and long.ok and len(long.message_ids) >= 2
        assert [m.text for m in sim.mt_for(PHONE)] == ["Balance: 100.00", LONG]
        report = await asyncio.wait_for(client.inbound.get(), 5)
        assert (report.kind, report.message_id, report.stat) == (
            "report", short.message_ids[0], "DELIVRD")  # fmt: skip
        await sim.inject_mo(PHONE, "95511", "我要查账单" * 30)
        mo = await asyncio.wait_for(client.inbound.get(), 5)
        assert (mo.kind, mo.source, mo.text) == ("mo", PHONE, "我要查账单" * 30)
    finally:
        await client.close()


@pytest.mark.parametrize(("gateway", "client"), [(3, 2), (3, 3), (2, 2)])
async def test_kefus_client_in_each_version(gateway: int, client: int):
    async with CmppSimulator(_config(), version=gateway) as sim:
        await _exchange(sim, client)


async def test_a_3_0_client_refused_by_a_2_0_gateway_hears_why():
    async with CmppSimulator(_config(), version=2) as sim:
        client = cmpp.client("127.0.0.1", sim.port, USER, SECRET, version=3)
        with pytest.raises(AuthenticationFailed, match="Status 4"):
            await asyncio.wait_for(client.start(), 5)
        await client.close()


async def test_what_waited_for_a_receiver_leaves_in_the_receivers_version():
    async with CmppSimulator(_config(), version=3) as sim:
        await sim.inject_mo(PHONE, "95511", "TD")
        client = cmpp.client("127.0.0.1", sim.port, USER, SECRET, version=2)
        await client.start()
        try:
            mo = await asyncio.wait_for(client.inbound.get(), 5)
            assert (mo.kind, mo.text) == ("mo", "TD")
        finally:
            await client.close()
