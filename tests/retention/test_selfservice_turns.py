"""Self-service turns under retention: their hashed customers are personal data (a phone
number's hash can be found by trying numbers), so old turns are purged after
``selfservice_turns_days`` — except a held customer's — and a customer's erasure takes theirs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.reports.models import SelfServiceTurn
from kefu.reports.turns import customer_key, record_turn
from kefu.retention import service
from kefu.retention.settings import RetentionSettings

pytestmark = pytest.mark.db
POLICY = RetentionSettings(selfservice_turns_days=30)
HELD, FREE, ERASED = "13800000101", "13800000102", "13800000103"


async def _turns(db, phone: str, days_ago: int, n: int = 2) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        at = utcnow() - timedelta(days=days_ago, minutes=i)
        await record_turn(db, channel="sms", address=phone, intent="balance", answered=True,
                          handed_off=False, at=at)  # fmt: skip
        await db.flush()


def test_old_turns_purged_held_kept_erased(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as db:
                for no, phone in (("T1", HELD), ("T2", FREE), ("T3", ERASED)):
                    customer = Customer(bank_customer_no=no)
                    db.add(customer)
                    await db.flush()
                    db.add(ChannelIdentity(customer_id=customer.id, kind="phone", value=phone))
                    await _turns(db, phone, days_ago=90)  # old
                    await _turns(db, phone, days_ago=1)  # within the period
                await record_turn(db, channel="wechat", address="", intent="", answered=False,
                                  handed_off=True, at=utcnow() - timedelta(days=90))  # fmt: skip
                await service.add_hold(db, bank_customer_no="T1", reason="诉讼保全", actor="admin")
                await db.commit()

                dry = await service.purge(db, POLICY, now=utcnow(), dry_run=True, actor="admin")
                kind = next(k for k in dry.kinds if k.kind == "kpi_selfservice_turns")
                # Old: 2 per customer and the anonymous one; T1's 2 are held.
                assert (kind.keep_days, kind.due, kind.held) == (30, 5, 2)
                assert await db.scalar(select(func.count()).select_from(SelfServiceTurn)) == 13

                done = await service.purge(db, POLICY, now=utcnow(), dry_run=False, actor="admin")
                await db.commit()
                kind = next(k for k in done.kinds if k.kind == "kpi_selfservice_turns")
                assert (kind.due, kind.held) == (5, 2)
                old = utcnow() - timedelta(days=30)
                left_old = (await db.scalars(select(SelfServiceTurn.customer).where(
                    SelfServiceTurn.at < old))).all()  # fmt: skip
                assert left_old == [customer_key("sms", HELD)] * 2
                assert await db.scalar(select(func.count()).select_from(SelfServiceTurn)) == 8

                # A second purge finds nothing new (idempotent).
                again = await service.purge(db, POLICY, now=utcnow(), dry_run=True, actor="admin")
                assert next(k for k in again.kinds if k.kind == "kpi_selfservice_turns").due == 0

                request = await service.erase_customer(db, "T3", actor="admin")
                await db.commit()
                assert request.result["selfservice_turns_erased"] == 2
                keys = set((await db.scalars(select(SelfServiceTurn.customer))).all())
                assert keys == {customer_key("sms", HELD), customer_key("sms", FREE)}
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_period_is_validated() -> None:
    with pytest.raises(ValueError):
        RetentionSettings(selfservice_turns_days=0)
    assert RetentionSettings().selfservice_turns_days == 365
