"""What the outbound rules cost: marketing requests through ``policy.decide`` + the outbox,
against the outbox alone (the baseline, in the same run on the same database).

    .venv/bin/python benchmarks/sms_policy.py --numbers 20000 --batch 1000 --requests 10

A temporary SQLite file (or --database-url) is migrated and filled with ``--numbers`` recorded
consents, one opt-out in 50, and a week of earlier marketing sends (one in 3 numbers got one
yesterday) so the cap query has rows to count. Each request sends one approved template to
``--batch`` numbers: the governed path decides (quiet hours, length, opt-out, consent, caps) and
queues the accepted ones; the baseline queues the same number of messages with no rules. No
carrier link sends them: this measures the decision and the write, not the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kefu.channels.sms.gateway import OutboundSms, SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.db.migrate import upgrade
from kefu.outbound import policy
from kefu.outbound.models import Consent, OptOut, SmsTemplate
from kefu.outbound.settings import SmsPolicySettings

NOON = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 China time: inside the sending hours
SIGNATURE = "【kefu银行】"


def _number(i: int) -> str:
    return f"139{i:08d}"


async def _fill(factory, numbers: int) -> None:  # type: ignore[no-untyped-def]
    async with session_scope(factory) as db:
        db.add_all(Consent(phone=_number(i), source="import", recorded_by="bench",
                           given_at=NOON - timedelta(days=30)) for i in range(numbers))  # fmt: skip
        db.add_all(OptOut(kind="phone", value=_number(i), source="sms")
                   for i in range(0, numbers, 50))  # fmt: skip
        db.add_all(SmsMessage(direction="out", phone=_number(i), service_number="95511",
                              text="x", kind="marketing", state="delivered", meta={},
                              created_at=NOON - timedelta(days=1))
                   for i in range(0, numbers, 3))  # fmt: skip


async def _timed(factory, work) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    async with session_scope(factory) as db:
        await work(db)
    return time.perf_counter() - start


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        gateway = SmsGateway(links=[], sessionmaker=factory, pipeline=None, signature=SIGNATURE)  # type: ignore[arg-type]
        settings = SmsPolicySettings()
        template = SmsTemplate(name="bench", kind="marketing", body="新品{x}", status="approved",
                               created_by="a", updated_by="b")  # fmt: skip
        await _fill(factory, args.numbers)
        governed, bare, accepted = [], [], 0
        for r in range(args.requests):
            # Each request a fresh slice of numbers, so caps count earlier sends, not this run's.
            first = (r * args.batch) % max(args.numbers - args.batch, 1)
            batch = [_number(i) for i in range(first, first + args.batch)]

            async def decide_and_queue(db, batch=batch, r=r) -> None:  # type: ignore[no-untyped-def]
                nonlocal accepted
                decision = await policy.decide(db, recipients=batch, kind="marketing",
                                               text="新品上线", policy=settings,
                                               signature=SIGNATURE, template=template, now=NOON)  # fmt: skip
                assert isinstance(decision, policy.Decision)
                accepted += len(decision.accepted)
                await gateway.enqueue_many(db, [OutboundSms(n, decision.text, "marketing",
                                                            idempotency_key=f"g{r}:{n}")
                                                for n in decision.accepted])  # fmt: skip

            async def queue_only(db, batch=batch, r=r) -> None:  # type: ignore[no-untyped-def]
                await gateway.enqueue_many(db, [OutboundSms(n, "新品上线", "notification",
                                                            idempotency_key=f"b{r}:{n}")
                                                for n in batch])  # fmt: skip

            governed.append(await _timed(factory, decide_and_queue))
            bare.append(await _timed(factory, queue_only))
        await engine.dispose()
    g, b = statistics.median(governed), statistics.median(bare)
    print(f"database: {'sqlite' if url.startswith('sqlite') else 'postgresql'}; "
          f"{args.numbers} consents, {args.requests} requests of {args.batch} numbers")  # fmt: skip
    print(f"governed (rules + queue): median {g * 1000:.1f} ms/request, "
          f"{args.batch / g:,.0f} recipients/s; {accepted} of "
          f"{args.requests * args.batch} recipients accepted")  # fmt: skip
    print(f"baseline (queue only):   median {b * 1000:.1f} ms/request, "
          f"{args.batch / b:,.0f} recipients/s")  # fmt: skip
    print(f"ratio governed/baseline: {g / b:.2f}x the time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
