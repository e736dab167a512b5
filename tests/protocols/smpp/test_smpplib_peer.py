"""An independent SMPP implementation (PyPI smpplib) against our SMSC simulator."""

import asyncio

import smpplib.client
import smpplib.consts as c
import smpplib.gsm
import smpplib.smpp

from kefu.protocols.simulator import SimulatorConfig
from kefu.protocols.smpp import SmppSimulator

from ..conftest import eventually

TEXT = (
    "尊敬的客户：您的信用卡本期账单已出，应还金额1234.56元，最低还款123.45元，请于25日前还款。" * 2
)
PHONE = "8613800138000"


def _bind(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transceiver(system_id="kefu", password="secret")
    return client


def _send_udh_ucs2(port: int) -> dict:
    client = _bind(port)
    parts, coding, esm = smpplib.gsm.make_parts(TEXT, encoding=c.SMPP_ENCODING_ISO10646)
    ids = []
    for part in parts:
        client.send_message(source_addr_ton=c.SMPP_TON_ALNUM, source_addr="95511",
                            dest_addr_ton=c.SMPP_TON_INTL, destination_addr=PHONE,
                            short_message=part, data_coding=coding, esm_class=esm,
                            registered_delivery=True)  # fmt: skip
        resp = client.read_pdu()
        assert resp.command == "submit_sm_resp" and resp.status == 0
        ids.append(resp.message_id.decode())
    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
    link_resp = client.read_pdu()
    receipts = [client.read_pdu() for _ in parts]  # the simulator's status reports
    client.unbind()
    client.disconnect()
    return {"parts": len(parts), "ids": ids, "enquire": link_resp.command, "receipts": receipts}


async def test_smpplib_two_part_ucs2_is_reassembled():
    async with SmppSimulator(SimulatorConfig("kefu", "secret", report_delay=0.05)) as sim:
        result = await asyncio.to_thread(_send_udh_ucs2, sim.port)
        assert result["parts"] == 2
        assert result["enquire"] == "enquire_link_resp"
        [mt] = sim.mt_for(PHONE)
        assert mt.text == TEXT and mt.parts == 2 and mt.source == "95511"
        assert mt.message_ids == result["ids"]
        receipts = result["receipts"]
        assert {r.command for r in receipts} == {"deliver_sm"}
        assert {r.receipted_message_id.rstrip(b"\0").decode() for r in receipts} == set(
            result["ids"]
        )
        assert all(b"stat:DELIVRD" in r.short_message for r in receipts)


def _send_sar(port: int) -> int:
    client = _bind(port)
    parts, coding, _ = smpplib.gsm.make_parts(TEXT, encoding=c.SMPP_ENCODING_ISO10646,
                                              use_udhi=False)  # fmt: skip
    for seq, part in enumerate(parts, 1):
        client.send_message(source_addr="95511", destination_addr=PHONE, short_message=part,
                            data_coding=coding, sar_msg_ref_num=0x1234,
                            sar_total_segments=len(parts), sar_segment_seqnum=seq)  # fmt: skip
        assert client.read_pdu().status == 0
    client.unbind()
    client.disconnect()
    return len(parts)


async def test_smpplib_sar_segments_are_reassembled():
    async with SmppSimulator(SimulatorConfig("kefu", "secret")) as sim:
        parts = await asyncio.to_thread(_send_sar, sim.port)
        assert parts == 2
        [mt] = sim.mt_for(PHONE)
        assert mt.text == TEXT and mt.parts == 2


def _receive_mo(port: int, ready: asyncio.Event, loop: asyncio.AbstractEventLoop) -> list:
    client = _bind(port)
    loop.call_soon_threadsafe(ready.set)
    got = []
    for _ in range(2):
        pdu = client.read_pdu()
        got.append(pdu)
        resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
        resp.sequence = pdu.sequence
        client.send_pdu(resp)
    client.disconnect()
    return got


async def test_smpplib_receives_our_mo():
    async with SmppSimulator(SimulatorConfig("kefu", "secret")) as sim:
        ready = asyncio.Event()
        job = asyncio.ensure_future(asyncio.to_thread(_receive_mo, sim.port, ready,
                                                      asyncio.get_running_loop()))  # fmt: skip
        await ready.wait()
        await eventually(lambda: any(s.bound for s in sim.sessions))
        assert await sim.inject_mo(PHONE, "95511", TEXT) == 2
        pdus = await asyncio.wait_for(job, 10)
        assert all(p.command == "deliver_sm" and p.data_coding == 8 for p in pdus)
        body = b"".join(p.short_message[6:] for p in pdus)  # strip the 6-octet UDH
        assert body.decode("utf-16-be") == TEXT
