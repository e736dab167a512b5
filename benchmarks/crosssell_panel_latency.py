"""Latency of the next best offer for one customer, scored at request time, in a bank of
--customers synthetic customers (100,000 by default).

    .venv/bin/python benchmarks/crosssell_panel_latency.py [--customers 100000] [--requests 300]

Seeds a fresh SQLite bank (or --database-url's), then asks `service.offers_for` — the bank
port reads (profile, holdings, cards, accounts, transactions, products), the contact-policy
queries, the rules and the shipped models — for random customers. Prints p50/p95/p99 in ms.
The baseline in the same run is the bank port's reads alone (what the customer panel already
pays), so the ratio shows what cross-selling adds on this machine, however loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.generator import customer_no
from kefu.bank.synthetic.seeder import seed
from kefu.crosssell import service
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def run(url: str, customers: int, requests: int) -> None:
    engine = make_engine(url)
    started = time.perf_counter()
    await seed(engine, customers=customers, as_of=date(2026, 6, 30), reset=True)
    print(f"seeded customers={customers} seconds={time.perf_counter() - started:.0f}")
    bank = SyntheticBank(engine)
    state = service.model_state()
    assert state.models is not None, state.problem
    rng = random.Random(1)
    nos = [customer_no(rng.randrange(customers)) for _ in range(requests)]
    port, full = [], []
    async with make_sessionmaker(engine)() as session:
        await service.offers_for(session, bank, nos[0], state=state)  # warm caches
        for no in nos:
            t = time.perf_counter()
            await bank.get_customer(no)
            await bank.list_holdings(no)
            await bank.list_cards(no)
            port.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await service.offers_for(session, bank, no, state=state)
            full.append((time.perf_counter() - t) * 1000)
    for name, values in (("bank_reads_only", port), ("offers_at_request_time", full)):
        print(f"{name} requests={len(values)} p50_ms={_pct(values, 50):.1f} "
              f"p95_ms={_pct(values, 95):.1f} p99_ms={_pct(values, 99):.1f}")  # fmt: skip
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        asyncio.run(run(url, args.customers, args.requests))


if __name__ == "__main__":
    main()
