"""The outbox across failures: a cut carrier link, and the gateway process killed or stopped
mid-batch of 10,000, or killed again and again. Nothing accepted is lost; nothing the carrier
had is sent twice. All with the default settings (a 120 s lease, 300 s at most before an
unanswered row is sent again): the rows a killed gateway held are settled from the carrier's
reports, not by waiting for their lease."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.assistant.engine import Assistant
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import OutboundSms, SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.messaging.pipeline import Pipeline
from kefu.protocols.factory import make_simulator
from kefu.protocols.simulator import CarrierSimulator, SimulatorConfig
from tests.channels.sms.support import stop_gateways
from tests.channels.sms.test_gateway import eventually

pytestmark = pytest.mark.db

# The three-kill test's ceiling, not a timing: rows a killed gateway marked but never wrote
# wait for the report wait (4ea14fc) after a restart that binds. That wait is 3 × the link's p90 report lag + 5 s,
# at most unknown_resend_after (300 s by default): on a loaded machine the simulator's reports
# lag and the wait grows with them (the three-kill test: 25 s quiet; 120 s ran out once in a
# CI rehearsal). The ceiling is the defaults' own bound, with room for the restart.
SETTLED_WITHIN = 330


def phone(n: int) -> str:
    return f"139{n:08d}"


async def fill_outbox(url: str, link: SmsLink, count: int) -> None:
    engine = make_engine(url)
    try:
        factory = make_sessionmaker(engine)
        writer = SmsGateway(links=[link], sessionmaker=factory,
                            pipeline=Pipeline(Assistant(SyntheticBank(engine))))  # fmt: skip
        async with factory() as db:
            for start in range(0, count, 1000):
                items = [OutboundSms(phone(n), f"账单提醒 {n}", "notification",
                                     idempotency_key=f"batch:{n}")
                         for n in range(start, min(start + 1000, count))]  # fmt: skip
                await writer.enqueue_many(db, items)
            await db.commit()
    finally:
        await engine.dispose()


async def states(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = await db.execute(
                select(SmsMessage.state, func.count()).group_by(SmsMessage.state)
            )
            return dict(rows.all())
    finally:
        await engine.dispose()


def received_counts(sims: list[CarrierSimulator], count: int) -> list[int]:
    return [sum(len(sim.mt_for(phone(n))) for sim in sims) for n in range(count)]


async def start_sim() -> CarrierSimulator:
    sim = make_simulator("smpp", SimulatorConfig("kefu", "secret", report_delay=0.05, seed=5))
    await sim.start()
    return sim


def link_to(sim: CarrierSimulator) -> SmsLink:
    return SmsLink(name="carrier", protocol="smpp", port=sim.port, username="kefu",
                   password="secret")  # fmt: skip


async def test_a_cut_carrier_link_loses_nothing_and_sends_nothing_twice(db_url: str) -> None:
    count = 2000
    sim = await start_sim()
    link = link_to(sim)
    await fill_outbox(db_url, link, count)
    engine = make_engine(db_url)
    gateway = SmsGateway(links=[link], sessionmaker=make_sessionmaker(engine),
                         pipeline=Pipeline(Assistant(SyntheticBank(engine))))  # fmt: skip
    try:
        await gateway.start()
        for cut_at in (400, 1200):  # twice, mid-batch: submits on the wire lose their answers
            await eventually(lambda at=cut_at: sim.stats["submits"] >= at, 60)
            sim.drop_connections()

        async def settled() -> bool:
            return (await states(db_url)).get("delivered") == count

        await eventually(settled, 90)
        assert received_counts([sim], count) == [1] * count
        assert sim.stats["submits"] == count
    finally:
        await gateway.stop()
        await engine.dispose()
        await sim.stop()


async def run_gateway(url: str, sim: CarrierSimulator) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": url,
        "KEFU_SMS_LINKS": json.dumps([link_to(sim).model_dump()]),
        "KEFU_LOG_LEVEL": "WARNING",
    }
    for name in [n for n in env if n.startswith("KEFU_SMS_") and n != "KEFU_SMS_LINKS"]:
        del env[name]  # the defaults
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kefu.cli", "run", "sms", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
async def test_the_gateway_stopped_mid_batch_of_10000(db_url: str, how: signal.Signals) -> None:
    count = 10_000
    sim = await start_sim()
    await fill_outbox(db_url, link_to(sim), count)
    processes: list[Any] = []
    try:
        first = await run_gateway(db_url, sim)
        processes.append(first)
        await eventually(lambda: sim.stats["submits"] >= 3000, 120)
        first.send_signal(how)
        assert await asyncio.wait_for(first.wait(), 60) in (0, -signal.SIGKILL)
        assert sim.stats["submits"] < count  # it really was mid-batch
        left = await states(db_url)
        processes.append(await run_gateway(db_url, sim))

        async def settled() -> bool:
            return (await states(db_url)).get("delivered") == count

        await eventually(settled, 180)
        assert received_counts([sim], count) == [1] * count
        assert sim.stats["submits"] == count
        if how == signal.SIGTERM:  # a clean stop leaves no row whose fate is unknown
            assert "sending" not in left and "unknown" not in left
    finally:
        await stop_gateways(processes, sim)


async def test_a_gateway_killed_three_times_loses_nothing_and_sends_nothing_twice(
    db_url: str,
) -> None:
    """kill -9 of a separate ``kefu run sms`` while it sends, restarted at once, three times:
    the rows each dead gateway held (some submitted with their answer unrecorded) are settled
    from the carrier's reports well within the 120 s lease."""
    count = 600
    sim = await start_sim()
    await fill_outbox(db_url, link_to(sim), count)
    processes: list[Any] = []
    try:
        for kill_at in (100, 250, 400):
            gateway = await run_gateway(db_url, sim)
            processes.append(gateway)
            await eventually(lambda at=kill_at: sim.stats["submits"] >= at, 60)
            gateway.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(gateway.wait(), 30) == -signal.SIGKILL
        assert sim.stats["submits"] < count  # killed mid-way, each time
        processes.append(await run_gateway(db_url, sim))

        async def settled() -> bool:
            return (await states(db_url)).get("delivered") == count

        await eventually(settled, SETTLED_WITHIN)
        assert received_counts([sim], count) == [1] * count
        assert sim.stats["submits"] == count
    finally:
        await stop_gateways(processes, sim)


async def test_a_stored_but_unanswered_text_is_answered_at_the_next_start(db_url: str) -> None:
    """The process died between storing an MO and queueing its answer."""
    sim = await start_sim()
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    async with factory() as db:
        db.add(SmsMessage(direction="in", link="carrier", phone="13700000077",
                          service_number="95511", text="H", kind="mo", state="received",
                          dedupe_key="in:test-stored"))  # fmt: skip
        await db.commit()
    gateway = SmsGateway(links=[link_to(sim)], sessionmaker=factory,
                         pipeline=Pipeline(Assistant(SyntheticBank(engine))))  # fmt: skip
    try:
        await gateway.start()
        replies = await eventually(lambda: sim.mt_for("13700000077"), 30)
        assert "ZD" in replies[0].text  # the help menu
        async with factory() as db:
            mo = await db.scalar(
                select(SmsMessage).where(SmsMessage.dedupe_key == "in:test-stored")
            )
            assert mo is not None and mo.state == "answered"
    finally:
        await gateway.stop()
        await engine.dispose()
        await sim.stop()
