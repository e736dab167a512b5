"""SMS hall: MO → reply latency through SMPP and CMPP 3.0, and outbox throughput.

    .venv/bin/python benchmarks/sms_hall.py --customers 100000 --queries 300 --messages 5000

Everything runs in this process on loopback: carrier simulators, the SMS gateway with the
assistant, and a synthetic bank in a temporary SQLite file (or --database-url). Baselines in
the same run: an "echo" SP that answers each MO straight from the protocol client (no database,
no assistant) for latency, and the protocol client submitting directly (no outbox) for
throughput; the ratios show what kefu's persistence and dialogs cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from kefu.assistant.engine import Assistant
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.seeder import seed
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import OutboundSms, SmsGateway
from kefu.channels.sms.links import make_client
from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.db.migrate import upgrade
from kefu.identity.binding import bind
from kefu.messaging.pipeline import Pipeline
from kefu.protocols.factory import make_simulator
from kefu.protocols.message import OutMessage
from kefu.protocols.simulator import SimulatorConfig

AS_OF = date(2026, 11, 29)
CREDENTIALS = {"smpp": ("kefu", "secret"), "cmpp3": ("900001", "888888")}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def wait_for(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("no reply")
        await asyncio.sleep(0.001)


async def mo_round_trips(sim, phones: list[str], text: str) -> list[float]:  # type: ignore[no-untyped-def]
    latencies = []
    for phone in phones:
        before = len(sim.mt_for(phone))
        started = time.perf_counter()
        await sim.inject_mo(phone, "95511", text)
        await wait_for(lambda p=phone, b=before: len(sim.mt_for(p)) > b)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def echo_latency(protocol: str, phones: list[str]) -> list[float]:
    user, secret = CREDENTIALS[protocol]
    sim = make_simulator(protocol, SimulatorConfig(user, secret, report_delay=0.5))
    await sim.start()
    link = SmsLink(name="echo", protocol=protocol, port=sim.port, username=user, password=secret)
    client = None

    async def echo(item) -> None:  # type: ignore[no-untyped-def]
        if item.kind == "mo":
            await client.submit(OutMessage(item.source, "余额：¥1,234.56", source="95511"))

    client = make_client(link, on_inbound=echo)
    await client.start()
    try:
        return await mo_round_trips(sim, phones, "YE")
    finally:
        await client.close()
        await sim.stop()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        bank = SyntheticBank(engine)
        started = time.perf_counter()
        await seed(engine, customers=args.customers, as_of=AS_OF, reset=True)
        print(
            f"synthetic bank: {args.customers:,} customers seeded in {time.perf_counter() - started:.0f} s"
        )
        factory = make_sessionmaker(engine)
        phones = []
        async with session_scope(factory) as db:
            step = max(args.customers // args.queries, 1)
            for n in range(args.queries):
                profile = await bank.get_customer(f"C{1 + (n * step) % args.customers:010d}")
                await bind(db, kind="phone", value=profile.mobile, profile=profile, actor="bench")
                phones.append(profile.mobile)
        sims, links = {}, []
        for protocol, (user, secret) in CREDENTIALS.items():
            sim = make_simulator(
                protocol, SimulatorConfig(user, secret, report_delay=0.5, mt_keep=10)
            )
            await sim.start()
            sims[protocol] = sim
            links.append(
                SmsLink(
                    name=protocol, protocol=protocol, port=sim.port, username=user, password=secret
                )
            )
        gateway = SmsGateway(links=links, sessionmaker=factory, pipeline=Pipeline(Assistant(bank), today=lambda: AS_OF), signature="【kefu银行】")  # fmt: skip
        await gateway.start()
        await asyncio.sleep(1)
        print(
            f"\nMO → reply latency, {args.queries} sequential balance queries (YE) by bound customers"
        )
        for protocol, sim in sims.items():
            await mo_round_trips(sim, phones[:10], "H")  # warm-up (another text: no dedupe)
            kefu = await mo_round_trips(sim, phones, "YE")
            echo = await echo_latency(protocol, phones)
            print(
                f"  {protocol:6} kefu p50 {statistics.median(kefu):6.1f} ms  p99 {pct(kefu, 0.99):6.1f} ms   "
                f"echo SP p50 {statistics.median(echo):5.1f} ms  p99 {pct(echo, 0.99):5.1f} ms   "
                f"p99 ratio x{pct(kefu, 0.99) / pct(echo, 0.99):.1f}"
            )
        print(f"\noutbox throughput, {args.messages:,} notifications over SMPP")
        started = time.perf_counter()
        async with session_scope(factory) as db:
            # As the SMS API does: one request for many recipients.
            for start in range(0, args.messages, 1000):
                await gateway.enqueue_many(db, [
                    OutboundSms(f"139{n:08d}", f"您的账单已出，编号{n}", "notification", "smpp", f"bench-{n}")
                    for n in range(start, min(start + 1000, args.messages))
                ])  # fmt: skip
        accepted = time.perf_counter() - started

        async def done() -> int:
            async with factory() as db:
                return (
                    await db.scalar(
                        select(func.count())
                        .select_from(SmsMessage)
                        .where(
                            SmsMessage.kind == "notification",
                            SmsMessage.state.in_(["sent", "delivered", "failed"]),
                        )
                    )
                    or 0
                )

        while await done() < args.messages:
            await asyncio.sleep(0.05)
        total = time.perf_counter() - started
        user, secret = CREDENTIALS["smpp"]
        direct = make_client(links[0])
        await direct.start()
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(
                direct.submit(OutMessage(f"138{n:08d}", f"您的账单已出，编号{n}", source="95511"))
                for n in range(args.messages)
            )
        )
        direct_s = time.perf_counter() - started
        await direct.close()
        assert all(o.ok for o in outcomes)
        print(f"  accepted into the outbox: {args.messages / accepted:8,.0f} msg/s")
        print(
            f"  stored → acknowledged by the carrier: {args.messages / total:8,.0f} msg/s end to end"
        )
        print(
            f"  protocol client alone (no outbox): {args.messages / direct_s:8,.0f} msg/s   ratio x{(args.messages / total) / (args.messages / direct_s):.2f}"
        )
        await gateway.stop()
        for sim in sims.values():
            await sim.stop()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
