"""The send API's Core insert of outbox rows (kefu.channels.sms.outbox_rows): each item is told the
id of its own row, a key used before or twice in one call is one message, and a row the
database refuses takes the whole call's rows with it (the group commit then runs each request
alone, tests/outbound/test_group_commit.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.outbox import OutboundSms
from kefu.channels.sms.outbox_rows import insert_many
from tests.outbound.test_api import in_session


def _outbox() -> SimpleNamespace:
    link = SmsLink(name="smsc", protocol="smpp", port=1, username="u", password="p")
    return SimpleNamespace(links={"smsc": link}, signature="【银行】", wake=asyncio.Event())


@pytest.mark.db
def test_each_item_is_told_its_own_row_and_a_key_is_one_message(db_url: str) -> None:
    outbox = _outbox()
    first = [OutboundSms("13900000001", "早", "notification", idempotency_key="a")]
    in_session(db_url, lambda db: insert_many(db, outbox, first))  # a key used before
    items = [
        OutboundSms(f"139000001{n:02d}", f"第{n}条", "notification",
                    idempotency_key=None if n % 3 else f"k{n}", meta={"sender": f"s{n}"})
        for n in range(40)
    ] + [
        OutboundSms("13900000002", "again", "notification", idempotency_key="k3"),  # twice here
        OutboundSms("13900000001", "早", "notification", idempotency_key="a"),  # stored before
        OutboundSms("13900000003", "【银行】已签", "otp", link="smsc"),
    ]  # fmt: skip

    async def work(db):  # type: ignore[no-untyped-def]
        stored = await insert_many(db, outbox, items)
        rows = {m.id: m for m in (await db.scalars(select(SmsMessage))).all()}
        return stored, rows

    stored, rows = in_session(db_url, work)
    assert len(stored) == len(items) and {s.state for s in stored} == {"accepted"}
    for item, answer in zip(items[:40], stored[:40], strict=True):
        row = rows[answer.id]  # the id each item was told is the row holding its own text
        assert (row.phone, row.text, row.meta) == (item.to, "【银行】" + item.text, item.meta)
        assert row.service_number == "95511" and row.link == "smsc" and row.direction == "out"
    assert stored[40] == stored[3]  # k3 twice in one call: one message
    assert rows[stored[41].id].text == "【银行】早" and len(rows) == 42  # 1 + 40 + the otp
    assert rows[stored[42].id].text == "【银行】已签"  # signed once
    assert outbox.wake.is_set()


@pytest.mark.db
def test_a_row_the_database_refuses_stores_none_of_the_call(db_url: str) -> None:
    outbox = _outbox()
    taken = [OutboundSms("13900000001", "x", "notification", idempotency_key="dup")]
    in_session(db_url, lambda db: insert_many(db, outbox, taken))

    async def racing(db):  # type: ignore[no-untyped-def]
        # Another process stored "dup" after this call looked its keys up: the unique key
        # refuses the insert, and with it the call's other rows.
        real_execute = db.execute
        calls = []

        async def execute(statement, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(statement)
            if len(calls) == 1:  # the key look-up: pretend it found nothing
                return SimpleNamespace(all=list)
            return await real_execute(statement, *args, **kwargs)

        db.execute = execute
        items = [OutboundSms(f"1390000010{n}", "y", "notification") for n in range(5)]
        await insert_many(db, outbox, [*items, *taken])

    with pytest.raises(IntegrityError):
        in_session(db_url, racing)

    async def count(db):  # type: ignore[no-untyped-def]
        return await db.scalar(select(func.count()).select_from(SmsMessage))

    assert in_session(db_url, count) == 1  # only the first call's row


@pytest.mark.db
def test_rows_beyond_one_statement_page_are_each_told_their_own_id(db_url: str) -> None:
    # On SQLite the rows go in pages of 1,000 per INSERT … RETURNING, and the ids come back in
    # no promised order: 2,100 rows (three pages), with earlier rows already in the table and
    # keys repeated across pages, must each still be told the row holding their own text.
    outbox = _outbox()
    in_session(db_url, lambda db: insert_many(db, outbox, [
        OutboundSms(f"1370000{n:04d}", f"早{n}", "notification") for n in range(7)]))  # fmt: skip
    items = [
        OutboundSms(f"1380{n:07d}", f"第{n}条", "notification",
                    idempotency_key=f"k{n % 1900}" if n % 5 == 0 else None)
        for n in range(2100)
    ]  # fmt: skip

    async def work(db):  # type: ignore[no-untyped-def]
        stored = await insert_many(db, outbox, items)
        rows = {m.id: m for m in (await db.scalars(select(SmsMessage))).all()}
        return stored, rows

    stored, rows = in_session(db_url, work)
    first_of_key: dict[str, int] = {}
    for n, (item, answer) in enumerate(zip(items, stored, strict=True)):
        key = item.idempotency_key
        if key is not None and key in first_of_key:  # k0 … k199 come again from n = 1900
            assert answer == stored[first_of_key[key]]
            continue
        if key is not None:
            first_of_key[key] = n
        assert rows[answer.id].text == "【银行】" + item.text and rows[answer.id].phone == item.to
    assert len(rows) == 7 + 2100 - 40  # the 40 repeated keys are one message each
