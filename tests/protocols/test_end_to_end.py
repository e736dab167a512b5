"""Our client against our simulator, for each protocol."""

import asyncio

import pytest

from kefu.protocols.errors import AuthenticationFailed
from kefu.protocols.message import OutMessage

from .conftest import Pair, eventually

PHONE = "13800138000"
LONG = "尊敬的客户，您尾号6222的信用卡3月账单金额为人民币1,234.56元，最后还款日为4月25日。" * 3


async def test_submit_short_and_long(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client()
    short = await client.submit(OutMessage(PHONE, "Balance: 100.00", source="95511"))
    long = await client.submit(OutMessage(PHONE, LONG, source="95511"))
    assert short.ok and len(short.message_ids) == 1
    assert long.ok and len(long.message_ids) >= 2
    texts = [m.text for m in sim.mt_for(PHONE)]
    assert texts == ["Balance: 100.00", LONG]
    assert sim.mt_for(PHONE)[1].message_ids == long.message_ids


async def test_reports_name_the_acknowledged_ids(pair: Pair):
    await pair.start_sim(failure_ratio=1.0)
    client = await pair.client()
    out = await client.submit(OutMessage(PHONE, "report me", source="95511"))
    report = await asyncio.wait_for(client.inbound.get(), 5)
    assert report.kind == "report"
    assert report.message_id == out.message_ids[0]
    assert report.stat == "UNDELIV" and not report.delivered


async def test_long_mo_is_reassembled(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client()
    parts = await sim.inject_mo(PHONE, "95511", "我要查3月的账单" + "，谢谢" * 40)
    assert parts >= 2
    mo = await asyncio.wait_for(client.inbound.get(), 5)
    assert (mo.kind, mo.source, mo.dest) == ("mo", PHONE, "95511")
    assert mo.text == "我要查3月的账单" + "，谢谢" * 40 and mo.parts == parts


async def test_mo_waits_for_a_receiver(pair: Pair):
    sim = await pair.start_sim()
    await sim.inject_mo(PHONE, "95511", "TD")
    client = await pair.client()
    mo = await asyncio.wait_for(client.inbound.get(), 5)
    assert mo.text == "TD"


async def test_wrong_secret_is_refused(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client(start=False, password="wrong!")
    with pytest.raises(AuthenticationFailed):
        await asyncio.wait_for(client.start(), 5)
    assert sim.stats["auth_failures"] == 1


async def test_window_is_never_exceeded(pair: Pair):
    sim = await pair.start_sim(response_delay=0.02)
    client = await pair.client(window=4)
    outcomes = await asyncio.gather(
        *(client.submit(OutMessage(PHONE, f"w{i}", want_report=False)) for i in range(40))
    )
    assert all(o.ok for o in outcomes)
    assert sim.stats["max_outstanding"] == 4


async def test_default_windows_follow_the_specs(pair: Pair):
    await pair.start_sim()
    client = await pair.client(start=False)
    expected = {"smpp": 10, "cmpp2": 16, "cmpp3": 16, "smgp": 16, "sgip": 32}
    assert client.window == expected[pair.protocol]


async def test_keepalive_and_clean_unbind(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client(keepalive_interval=0.05)
    if pair.protocol == "sgip":
        assert client.link.keepalive_request() is None  # SGIP defines no keep-alive PDU
    else:
        await eventually(lambda: client.stats["keepalives"] >= 2)
    assert client.connected
    await client.close()
    await eventually(lambda: not any(s.bound and not s.writer.is_closing() for s in sim.sessions))


def test_pacer_spaces_sends():
    from kefu.protocols.client import Pacer

    pacer = Pacer(200)
    assert pacer.delay(100.0) == 0  # the first send goes at once ...
    assert pacer.delay(100.001) == pytest.approx(0.004)  # ... the next is 1/200 s later
    assert pacer.delay(100.004) == pytest.approx(0.001)  # asking again books nothing
    assert pacer.delay(100.006) == 0  # booked from when it went: no burst to catch up
    assert pacer.delay(100.007) == pytest.approx(0.004)


async def test_paced_client_never_bursts(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client(max_tps=50)
    loop = asyncio.get_running_loop()
    start = loop.time()
    outs = await asyncio.gather(
        *(client.submit(OutMessage(PHONE, f"第{i}条", want_report=False)) for i in range(10))
    )
    # ten sends 1/50 s apart span at least 9/50 s, however fast the carrier answers
    assert all(o.ok for o in outs) and loop.time() - start >= 9 / 50 - 0.005
    assert sim.stats["submits"] == 10


async def test_mo_with_a_missing_part_is_expired(pair: Pair):
    from kefu.protocols.message import OutMessage as Msg

    sim = await pair.start_sim()
    client = await pair.client(reassembly_timeout=0.2)
    pdus = sim.mo_pdus(PHONE, "95511", "缺一段的长短信" * 30)
    assert len(pdus) >= 3
    await sim.deliver_to_sp([pdus[0], pdus[2]])  # part 2 never comes
    await eventually(lambda: client.assembler.reassembler.incomplete, timeout=5)
    [lost] = client.assembler.reassembler.incomplete
    assert lost.received == (1, 3) and lost.total == len(pdus)
    assert client.inbound.empty()
    assert len(client.assembler.reassembler) == 0
    assert (await client.submit(Msg(PHONE, "still fine"))).ok


async def test_long_message_with_16_bit_reference_and_sar(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client()
    out = await client.submit(OutMessage(PHONE, LONG, source="95511", ref16=True))
    assert out.ok and len(out.message_ids) >= 2
    if pair.protocol == "smpp":  # SAR TLVs instead of a UDH
        sar = await client.submit(OutMessage(PHONE, LONG + "!", source="95511", use_sar=True))
        assert sar.ok
    texts = [m.text for m in sim.mt_for(PHONE)]
    assert texts == ([LONG, LONG + "!"] if pair.protocol == "smpp" else [LONG])
