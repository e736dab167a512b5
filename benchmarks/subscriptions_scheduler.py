"""Subscription scheduler: customers/s and notices/s through a run over N subscribers.

    .venv/bin/python benchmarks/subscriptions_scheduler.py --customers 100000

A synthetic bank of N customers in a temporary SQLite file (or --database-url), every one of
them bound and subscribed to all three services (bill ready, repayment reminder 3 days before,
balance alerts from ¥500). Measured in the same run:

- baseline: the outbox alone — ``SmsGateway.enqueue_many`` of as many notices, in pages of
  500 with an idempotency key each, as the scheduler queued (what writing them costs with no
  bank and no paging);
- the scheduler's first run for the business day (pages of subscribers, bank port calls,
  once-only notice keys, outbox rows);
- a second run of the same day: every notice already sent, so only paging and the bank.

Peak RSS is printed after each step: paging keeps it flat as N grows.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, insert, select

from kefu.assistant.engine import Assistant
from kefu.bank.synthetic import schema
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.seeder import seed
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import OutboundSms, SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.db.migrate import upgrade
from kefu.identity.models import ChannelIdentity, Customer
from kefu.messaging.pipeline import Pipeline
from kefu.subscriptions.models import Subscription
from kefu.subscriptions.scheduler import SubscriptionScheduler
from kefu.subscriptions.service import Service

AS_OF = date(2026, 11, 29)
SIGNATURE = "【kefu银行】"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def subscribe_everyone(engine, customers: int) -> None:  # type: ignore[no-untyped-def]
    """Bulk rows (not the audited service path): this is set-up, not what is measured."""
    now = utcnow()
    async with engine.begin() as conn:
        done = 0
        while done < customers:
            rows = (
                await conn.execute(
                    select(
                        schema.customers.c.id,
                        schema.customers.c.customer_no,
                        schema.customers.c.mobile,
                        schema.customers.c.tier,
                        schema.customers.c.city,
                    )
                    .where(schema.customers.c.id > done)
                    .order_by(schema.customers.c.id)
                    .limit(5000)
                )  # fmt: skip
            ).all()
            if not rows:
                break
            await conn.execute(insert(Customer), [
                {"id": r.id, "bank_customer_no": r.customer_no, "tier": r.tier,
                 "region": r.city, "created_at": now} for r in rows])  # fmt: skip
            await conn.execute(insert(ChannelIdentity), [
                {"kind": "phone", "value": r.mobile, "customer_id": r.id, "bound_at": now}
                for r in rows])  # fmt: skip
            subs = []
            for r in rows:
                subs += [
                    {"customer_id": r.id, "service": Service.BILL_READY.value, "channel": "sms",
                     "days_before": None, "threshold_fen": None},
                    {"customer_id": r.id, "service": Service.REPAYMENT_REMINDER.value,
                     "channel": "sms", "days_before": 3, "threshold_fen": None},
                    {"customer_id": r.id, "service": Service.BALANCE_ALERT.value,
                     "channel": "sms", "days_before": None, "threshold_fen": 50_000},
                ]  # fmt: skip
            for s in subs:
                s["created_at"] = s["updated_at"] = now
            await conn.execute(insert(Subscription), subs)
            done = rows[-1].id


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        await seed(engine, customers=args.customers, as_of=AS_OF, reset=True)
        await subscribe_everyone(engine, args.customers)
        print(f"set-up: {args.customers:,} customers seeded, bound and subscribed to 3 services "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        factory = make_sessionmaker(engine)
        bank = SyntheticBank(engine)
        link = SmsLink(name="carrier", protocol="smpp", port=1, username="kefu", password="x")
        gateway = SmsGateway(links=[link], sessionmaker=factory, pipeline=Pipeline(Assistant(bank)),
                             signature=SIGNATURE)  # fmt: skip
        scheduler = SubscriptionScheduler(sessionmaker=factory, bank=bank, outbox=gateway)

        started = time.perf_counter()
        first = await scheduler.run_once(AS_OF)
        run_s = time.perf_counter() - started
        rss_run = rss_mb()

        # Baseline: the same number of notices written straight into the outbox.
        count = max(first.queued, 1)
        started = time.perf_counter()
        for start in range(0, count, 500):
            async with session_scope(factory) as db:
                await gateway.enqueue_many(db, [
                    OutboundSms(to=f"139{i:08d}", text="【kefu银行】尾号1234账户11月28日收入¥1,000.00",
                                kind="notification", idempotency_key=f"bench:{i}")
                    for i in range(start, min(start + 500, count))])  # fmt: skip
        base_s = time.perf_counter() - started

        started = time.perf_counter()
        second = await scheduler.run_once(AS_OF)
        rerun_s = time.perf_counter() - started
        async with session_scope(factory) as db:
            total = await db.scalar(select(func.count()).select_from(SmsMessage))
        await engine.dispose()

    engine_name = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    base_rate = count / base_s
    print(f"engine: {engine_name}; business day {AS_OF}; page size {scheduler.page_size}")
    print(
        f"baseline enqueue_many:  {count:,} notices in {base_s:.1f} s = {base_rate:,.0f} notices/s"
    )
    print(f"scheduler, first run:   {first.customers:,} customers in {run_s:.1f} s = "
          f"{first.customers / run_s:,.0f} customers/s; {first.queued:,} notices = "
          f"{first.queued / run_s:,.0f} notices/s (x{first.queued / run_s / base_rate:.2f} of "
          f"the baseline); by service {dict(sorted(first.by_service.items()))}; "
          f"bank errors {first.errors}")  # fmt: skip
    print(f"scheduler, second run:  {second.customers:,} customers in {rerun_s:.1f} s = "
          f"{second.customers / rerun_s:,.0f} customers/s; {second.queued} queued, "
          f"{second.already_sent:,} already sent")  # fmt: skip
    print(
        f"outbox rows: {total:,} (scheduler {first.queued:,} + baseline {count:,}); "
        f"peak RSS after the first run {rss_run:.0f} MB, at the end {rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
