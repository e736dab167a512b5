"""The mark written before each submit (issue #24): a claimed row is marked (``submitted_at``,
committed) before its PDUs go to the carrier's socket, so after a crash a claimed row without
the mark provably never left and is queued again at once, while a marked one without a
recorded answer waits for the carrier's report as before. All with the default settings."""

from __future__ import annotations

import asyncio
import signal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.channels.sms.gateway import OutboundSms, SmsGateway
from kefu.channels.sms.links import make_client
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.outbox import REQUEUED
from kefu.channels.sms.store import SENDING, UNKNOWN
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.protocols.factory import make_simulator
from kefu.protocols.simulator import SimulatorConfig
from tests.channels.sms.support import add_dead_and_live_senders, stop_gateways
from tests.channels.sms.test_gateway import eventually
from tests.channels.sms.test_kept_reports import LINK, rows
from tests.channels.sms.test_outbox_recovery import (
    fill_outbox,
    link_to,
    phone,
    received_counts,
    run_gateway,
    start_sim,
)

pytestmark = pytest.mark.db


async def by_id(factory, ids: list[int]) -> dict[int, SmsMessage]:  # type: ignore[no-untyped-def]
    async with factory() as db:
        found = await db.scalars(select(SmsMessage).where(SmsMessage.id.in_(ids)))
        return {m.id: m for m in found.all()}


async def test_a_dead_senders_unmarked_rows_are_queued_again_and_marked_ones_wait(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    gateway = SmsGateway(links=[LINK], sessionmaker=factory, pipeline=None)  # lease 120 s
    try:
        await add_dead_and_live_senders(factory)
        claimed = await rows(factory, SENDING, "13900000021", 3, sender="killed", marked=False)
        marked = await rows(factory, SENDING, "13900000022", 2, sender="killed")
        live = await rows(factory, SENDING, "13900000023", 1, sender="alive", marked=False)
        assert await gateway.outbox.mark_interrupted(gateway.senders) == 5
        got = await by_id(factory, claimed + marked + live)
        for mid in claimed:  # never written: queued as if never claimed, nothing said of twice
            assert (got[mid].state, got[mid].sender, got[mid].lease_until) == (
                "accepted",
                None,
                None,
            )
            assert got[mid].error == REQUEUED and "possibly_duplicated" not in got[mid].meta
        assert [got[mid].state for mid in marked] == [UNKNOWN, UNKNOWN]  # the carrier may have them
        assert got[live[0]].state == SENDING  # a live sender's row is never taken
        # The dead sender, were it only slow, finds its unmarked rows gone when it marks them.
        late = SmsGateway(links=[LINK], sessionmaker=factory, pipeline=None)
        late.outbox.sender = "killed"
        assert await late.outbox._mark(claimed + marked) == set()
        late.outbox.sender = "alive"
        assert await late.outbox._mark(live) == set(live)
    finally:
        await engine.dispose()


async def test_two_gateways_each_taking_the_other_for_dead_send_each_row_once(
    db_url: str,
) -> None:
    """Gateway A claims rows and submits them a window at a time; meanwhile B takes A for
    dead (its heartbeat late), requeues what A has not marked and sends it. The requeue and
    the mark each carry their conditions in their UPDATE, so whichever commits first wins
    the row: nothing goes out twice and nothing is left."""
    count, rounds = 240, 3
    sim = make_simulator("smpp", SimulatorConfig("kefu", "secret", report_delay=3600,
                                                  response_delay=0.01, seed=3))  # fmt: skip
    await sim.start()
    link = link_to(sim).model_copy(update={"window": 5})
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    gateways = [SmsGateway(links=[link], sessionmaker=factory, pipeline=None) for _ in "AB"]
    try:
        for gateway in gateways:
            await gateway.senders.register()
            gateway.outbox.sender = gateway.senders.me
            client = make_client(link, on_inbound=lambda item: True)
            gateway.clients["carrier"] = client
            await client.start()
        a, b = (g.outbox for g in gateways)
        a_is_dead = SimpleNamespace(dead=lambda db: asyncio.sleep(0, [a.sender]))
        for round_ in range(rounds):
            async with factory() as db:  # each round's rows, so that B cannot send the next
                await a.enqueue_many(db, [OutboundSms(phone(n), f"账单提醒 {n}", "notification")
                                          for n in range(round_ * count, (round_ + 1) * count)])  # fmt: skip
                await db.commit()
            claimed = []
            while len(claimed) < count:  # A claims 50 rows at a time (window 5 × 10)
                claimed += await a._claim()

            async def take_over() -> int:
                await eventually(lambda: sim.stats["submits"] > 0, 30)
                taken = await b.mark_interrupted(a_is_dead)  # type: ignore[arg-type]
                while await b.send_batch():
                    pass
                return taken

            await asyncio.gather(a.submit_claimed(claimed), take_over())
        async with factory() as db:
            states = dict(
                (await db.execute(select(SmsMessage.state, func.count()).group_by(SmsMessage.state))).all()
            )  # fmt: skip
            senders = dict(
                (await db.execute(select(SmsMessage.sender, func.count()).group_by(SmsMessage.sender))).all()
            )  # fmt: skip
        assert states == {"sent": count * rounds}
        assert senders[a.sender] > 0 and senders[b.sender] > 0  # both sent some: a real race
        assert received_counts([sim], count * rounds) == [1] * (count * rounds)
        assert sim.stats["submits"] == count * rounds
    finally:
        for gateway in gateways:
            for client in gateway.clients.values():
                await client.close()
        await engine.dispose()
        await sim.stop()


async def test_after_a_kill_unmarked_rows_go_at_once_and_marked_ones_wait_for_the_report(
    db_url: str,
) -> None:
    """kill -9 of a separate ``kefu run sms`` while the carrier does not answer: it has
    claimed ten windows, marked three and written one. The next gateway sends the seven
    never marked at once, as if never claimed; the written ones settle from their reports;
    the marked but unwritten ones are not sent until their report wait runs out, and then say
    they may be duplicates. Every message reaches the handset once."""
    count = 300
    sim = await start_sim()
    sim.config.response_delay = 3600.0  # submits go unanswered: the batch stops mid-way
    await fill_outbox(db_url, link_to(sim), count)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    processes: list[Any] = []
    try:
        first = await run_gateway(db_url, sim)
        processes.append(first)

        async def marked_and_claimed() -> tuple[list[int], list[int]] | None:
            async with factory() as db:
                held = (
                    await db.execute(
                        select(SmsMessage.id, SmsMessage.submitted_at).where(SmsMessage.state == SENDING)
                    )
                ).all()  # fmt: skip
            marks = [mid for mid, at in held if at is not None]
            if sim.stats["submits"] < 10 or len(marks) < 30:
                return None
            return marks, [mid for mid, at in held if at is None]

        await eventually(marked_and_claimed, 90)
        first.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(first.wait(), 30) == -signal.SIGKILL
        marks, unmarked = await marked_and_claimed() or ([], [])  # as the kill left them
        # Three windows marked of the ten claimed (more only if the carrier's silence outlasted
        # the client's response timeout before the kill), one window of them on the wire.
        assert len(marks) >= 30 and len(unmarked) >= 40
        phones = {m.id: m.phone for m in (await by_id(factory, marks + unmarked)).values()}
        written = [mid for mid in marks if sim.mt_for(phones[mid])]
        assert 10 <= len(written) < len(marks)
        assert not any(sim.mt_for(phones[mid]) for mid in unmarked)  # the mark comes first
        sim.config.response_delay = 0.0
        processes.append(await run_gateway(db_url, sim))

        async def unmarked_delivered() -> dict[int, SmsMessage] | None:
            got = await by_id(factory, marks + unmarked)
            return got if all(got[mid].state == "delivered" for mid in unmarked) else None

        got = await eventually(unmarked_delivered, 120)
        for mid in unmarked:  # sent at once, not as possible duplicates
            assert "possibly_duplicated" not in got[mid].meta and got[mid].attempts == 2
        for mid in set(marks) - set(written):  # not sent before their report wait
            assert got[mid].state == UNKNOWN or got[mid].meta.get("possibly_duplicated")

        async def all_delivered() -> dict[int, SmsMessage] | None:
            got = await by_id(factory, marks + unmarked)
            async with factory() as db:
                done = await db.scalar(select(func.count()).where(SmsMessage.state == "delivered"))
            return got if done == count else None

        got = await eventually(all_delivered, 240)
        for mid in set(marks) - set(written):  # their report wait ran out: said aloud
            assert got[mid].meta.get("possibly_duplicated") is True
        for mid in written:  # settled from the carrier's reports, never sent again
            assert "possibly_duplicated" not in got[mid].meta and got[mid].attempts == 1
        assert received_counts([sim], count) == [1] * count
        assert sim.stats["submits"] == count
    finally:
        await stop_gateways(processes, sim)
        await engine.dispose()
