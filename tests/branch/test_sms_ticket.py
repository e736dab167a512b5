"""A ticket by SMS (issue #17): ``PD 深圳`` lists the nearest branches numbered, ``PD 1`` takes
a remote ticket at the first, through a real carrier protocol on a loopback socket (the SMS
hall of tests/channels/sms/test_gateway.py); the "3 ahead" text reaches the same handset. Bad
input gets a clear Chinese reply and takes nothing; one phone racing itself gets one ticket —
on SQLite and, with KEFU_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from kefu.assistant import render
from kefu.assistant.branches import parse
from kefu.assistant.engine import Assistant
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.branch import notices, queue, tickets
from kefu.branch.models import BranchTicket
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.messaging.contract import Turn
from tests.channels.sms.test_gateway import SIGNATURE, Hall, eventually
from tests.conftest import AS_OF, seed_sync

pytestmark = pytest.mark.db
SHENZHEN = "B004"  # the synthetic bank's 深圳分行营业部; 广州 (B003) is the next nearest


@pytest.fixture
def bank_url(db_url: str) -> str:
    seed_sync(db_url, 10)
    return db_url


async def _open_cash_counter(factory, code: str = SHENZHEN, waiting: int = 5) -> int:  # type: ignore[no-untyped-def]
    async with factory() as db, db.begin():
        counter = await queue.add_counter(db, branch_code=code, number=1, services=["cash"])
        await queue.set_counter_state(db, counter_id=counter.id, state="open", teller="t1")
        for _ in range(waiting):
            await queue.take_ticket(db, branch_code=code, service_code="cash")
        return counter.id


async def _tickets_of(factory, phone: str) -> list[BranchTicket]:  # type: ignore[no-untyped-def]
    async with factory() as db:
        key = f"phone:{phone}"
        return list(await db.scalars(select(BranchTicket).where(BranchTicket.customer_key == key)))


def test_parse_pick_service_and_bad_arguments() -> None:
    assert parse("pd", None) == parse("pd 深圳", "深圳")
    assert parse("pd 深圳", "深圳").pick is None
    assert parse("pd 1", None).pick == 1 and parse("pd1", None).pick == 1
    assert parse("pd 深圳 2", "深圳").pick == 2
    assert parse("pd 第3个", None).pick == 3
    assert parse("pd 1 开户", None).service == "account"
    assert parse("pd 1", None).service == "cash"
    assert parse("pd abc", None).bad and parse("pd 1a", None).bad
    assert not parse("pd 南山", None).bad  # words: the list, which asks for the city
    assert parse("深圳哪个网点排队少", "深圳").pick is None


async def test_pd_then_pd_1_takes_a_ticket_by_sms_and_3_ahead_comes_by_sms(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    gateway = await hall.start()
    try:
        counter_id = await _open_cash_counter(hall.factory)
        phone = "13700000011"
        listing = await hall.text(phone, "PD 深圳")
        assert listing.startswith(SIGNATURE)
        assert "1.深圳分行营业部排队5人" in listing and "2.广州分行营业部暂停取号" in listing
        assert "回复PD加序号远程取号" in listing
        taken = await hall.text(phone, "PD 1")
        assert "已为您在深圳分行营业部取号A006（现金业务），前面5人，预计等候约" in taken
        assert "前面还剩3人时短信提醒您" in taken
        [ticket] = await _tickets_of(hall.factory, phone)
        assert (ticket.source, ticket.notify_ahead, ticket.state) == ("sms", 3, "waiting")
        assert ticket.predicted_wait and ticket.predicted_wait > 0

        # The same phone again (even naming another branch): its ticket, not a new one.
        again = await hall.text(phone, "PD 深圳 2")
        assert "您今天已有号票A006（深圳分行营业部，现金业务），请勿重复取号" in again
        assert len(await _tickets_of(hall.factory, phone)) == 1

        # Two calls later three are ahead: the handset gets the notice by SMS.
        async with hall.factory() as db, db.begin():
            await queue.call_next(db, counter_id=counter_id)
            await queue.call_next(db, counter_id=counter_id)
            due = await queue.due_notices(db, SHENZHEN)
            assert [(t.id, n) for t, n in due] == [(ticket.id, 3)]
            await notices.send(SimpleNamespace(sms=gateway), db, "深圳分行营业部", due)
        await eventually(lambda: any("A006前面还有3人" in m.text for m in hall.sim.mt_for(phone)))
    finally:
        await hall.close()


async def test_bad_pd_input_gets_clear_replies_and_takes_nothing(bank_url: str) -> None:
    hall = Hall("smpp", bank_url)
    await hall.start()
    try:
        await _open_cash_counter(hall.factory)
        phone = "13700000012"
        assert render.BRANCH_PICK_NO_CITY in await hall.text(phone, "PD 1")  # no list yet
        await hall.text(phone, "PD 深圳")
        assert "没有第9个网点，请回复PD 1到PD 3选择网点。" in await hall.text(phone, "PD 9")
        assert render.BRANCH_PICK_NOT_NUMBER in await hall.text(phone, "PD abc")
        closed = await hall.text(phone, "PD 2")  # 广州: no counter open
        assert "取号未成功：该网点当前不办理现金业务" in closed
        no_account = await hall.text(phone, "PD 深圳 1 开户")  # 深圳 has a cash counter only
        assert "取号未成功：该网点当前不办理开户" in no_account
        assert await _tickets_of(hall.factory, phone) == []
        # After all that the list is still there: "PD 1" takes the ticket (said otherwise: the
        # same text within a minute is a carrier's re-delivery, answered once).
        assert "取号A006" in await hall.text(phone, "pd 第1个")
    finally:
        await hall.close()


async def _retrying(factory, work):  # type: ignore[no-untyped-def]
    """One transaction of ``work``, again when SQLite says "database is locked"."""
    while True:
        try:
            async with session_scope(factory) as db:
                return await work(db)
        except OperationalError:
            await asyncio.sleep(0.01)


async def test_one_phone_racing_itself_gets_one_ticket(bank_url: str) -> None:
    """Two "PD 1" at once from one phone, each on its own connection as two app processes
    would answer them, then eight raw remote-ticket requests for one key at once."""
    engine = make_engine(bank_url)
    try:
        factory = make_sessionmaker(engine)
        await _open_cash_counter(factory, waiting=2)
        assistant = Assistant(SyntheticBank(engine))
        phone = "13700000013"

        def say(text: str):  # type: ignore[no-untyped-def]
            async def work(db):  # type: ignore[no-untyped-def]
                return await assistant.handle(db, Turn("sms", phone, text, AS_OF))

            return work

        await _retrying(factory, say("PD 深圳"))
        engines = [make_engine(bank_url) for _ in range(2)]
        replies = await asyncio.gather(
            *(_retrying(make_sessionmaker(e), say("PD 1")) for e in engines)
        )
        texts = sorted(r.texts[0] for r in replies)  # 已为您… sorts before 您今天…
        assert "已为您在深圳分行营业部取号A003" in texts[0]
        assert "您今天已有号票A003" in texts[1]
        assert len(await _tickets_of(factory, phone)) == 1

        async def take(db):  # type: ignore[no-untyped-def]
            got = await tickets.take_remote(db, branch_code=SHENZHEN, service_code="cash",
                                            source="sms", customer_key="phone:13700000014")  # fmt: skip
            return got.existing

        engines += [make_engine(bank_url) for _ in range(8)]
        results = await asyncio.gather(
            *(_retrying(make_sessionmaker(e), take) for e in engines[2:])
        )
        assert sorted(results) == [False] + [True] * 7
        async with factory() as db:
            count = await db.scalar(
                select(func.count()).where(BranchTicket.customer_key == "phone:13700000014")
            )
        assert count == 1
        for e in engines:
            await e.dispose()
    finally:
        await engine.dispose()


async def test_the_demo_day_has_a_ticket_taken_by_sms(session) -> None:  # type: ignore[no-untyped-def]
    from kefu.branch.demo import SMS_PHONE, seed_branch_day, seed_sms_ticket
    from tests.branch.conftest import NOW

    await seed_branch_day(session, now=NOW)
    said = await seed_sms_ticket(session, now=NOW)
    [ticket] = list(await session.scalars(select(BranchTicket).where(BranchTicket.source == "sms")))
    assert ticket.customer_key == f"phone:{SMS_PHONE}" and ticket.notify_ahead == 3
    assert ticket.state == "waiting" and ticket.predicted_wait and ticket.predicted_wait > 0
    assert f"B001/{ticket.label}" in said and SMS_PHONE not in said  # the number masked


async def test_a_taken_tickets_wait_counts_the_queue_as_training_did(
    bank_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model learnt from the queue each customer found on arrival, themself not counted:
    the wait of a ticket already waiting must not count that ticket among those waiting."""
    engine = make_engine(bank_url)
    factory = make_sessionmaker(engine)
    seen = []
    monkeypatch.setattr(tickets.waits, "predicted_seconds", lambda s: seen.append(s) or 60.0)
    try:
        await _open_cash_counter(factory, waiting=2)
        async with factory() as db, db.begin():
            got = await tickets.take_remote(db, branch_code=SHENZHEN, service_code="cash",
                                            source="sms", customer_key="phone:13700000021")  # fmt: skip
            await tickets.ticket_wait(db, got.ticket, ahead=2)
        assert (seen[-1].ahead, seen[-1].waiting) == (2, 2)  # three wait; two before this one
    finally:
        await engine.dispose()
