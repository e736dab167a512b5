"""Latency of the next best offer for one customer in a bank of --customers synthetic
customers (100,000 by default): precomputed scores (what the panel does) against scoring at
request time (what it did before), in the same run.

    .venv/bin/python benchmarks/crosssell_panel_latency.py [--customers 100000] [--requests 300]

Seeds a fresh SQLite bank (or --database-url's), precomputes every customer's scores with
`kefu.crosssell.scores.score_all` (the code of `kefu crosssell score-all`; its rate printed),
then for the same random customers, in three rounds (order of the methods rotated each round):

- bank_reads_only: get_customer, list_holdings, list_cards — what the customer panel already
  pays (the baseline);
- precomputed: `service.offers_for` — the row, the live contact policy and every hard rule;
- request_time: the bank's reads with salary (accounts, transactions), the contact policy and
  `arbitration.decide` (a model prediction per eligible product and the reasons) — the panel
  before precomputation.

Prints p50/p99 in ms per round and the median of the three, the ratios to the baseline and
between the two, and the load average (the machine is shared: read the ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.generator import customer_no
from kefu.bank.synthetic.seeder import seed
from kefu.crosssell import scores, service
from kefu.crosssell.arbitration import decide
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade

AS_OF = date(2026, 6, 30)
AS_OF_NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def _load() -> str:
    return "load_average=" + "/".join(f"{x:.1f}" for x in os.getloadavg())


async def run(url: str, customers: int, requests: int, reseed: bool) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    if reseed:
        started = time.perf_counter()
        await seed(engine, customers=customers, as_of=AS_OF, reset=True)
        print(f"seeded customers={customers} seconds={time.perf_counter() - started:.0f}")
    state = service.model_state()
    assert state.models is not None, state.problem
    models = state.models
    started, cpu = time.perf_counter(), time.process_time()
    progress = await scores.score_all(
        sessions, bank, (customer_no(i) for i in range(customers)), models, today=AS_OF,
        report=lambda p: print(f"  score_all done={p.done} skipped={p.skipped} "
                               f"seconds={time.perf_counter() - started:.0f}", flush=True)
        if p.done % 10_000 < scores.CHUNK else None,
    )  # fmt: skip
    wall = time.perf_counter() - started
    print(f"score_all customers={progress.done} skipped={progress.skipped} "
          f"wall_s={wall:.0f} cpu_s={time.process_time() - cpu:.0f} "
          f"per_customer_ms={1000 * wall / max(progress.done, 1):.1f} {_load()}")  # fmt: skip
    rng = random.Random(1)
    nos = [customer_no(rng.randrange(customers)) for _ in range(requests)]

    async def reads(db, no):  # type: ignore[no-untyped-def]
        await bank.get_customer(no)
        await bank.list_holdings(no)
        await bank.list_cards(no)

    async def precomputed(db, no):  # type: ignore[no-untyped-def]
        panel = await service.offers_for(db, bank, no, state=state, today=AS_OF)
        assert panel.source == "precomputed" or panel.decision.withheld, panel  # type: ignore[union-attr]

    async def request_time(db, no):  # type: ignore[no-untyped-def]
        facts = await scores.customer_facts(db, bank, no, AS_OF)
        policy = await service.policy_for(db, no, None, AS_OF_NOW)
        decide(await bank.list_products(), facts, models, policy)

    methods = {"bank_reads_only": reads, "precomputed": precomputed, "request_time": request_time}
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    async with sessions() as db:
        for method in methods.values():  # warm caches (models, statements)
            await method(db, nos[0])
        for round_no in range(3):
            order = list(methods)[round_no:] + list(methods)[:round_no]
            for name in order:
                took = []
                for no in nos:
                    t = time.perf_counter()
                    await methods[name](db, no)
                    took.append((time.perf_counter() - t) * 1000)
                await db.rollback()
                rounds[name].append((_pct(took, 50), _pct(took, 99)))
                print(f"round={round_no} method={name} requests={len(took)} "
                      f"p50_ms={rounds[name][-1][0]:.1f} p99_ms={rounds[name][-1][1]:.1f} "
                      f"{_load()}", flush=True)  # fmt: skip
    median = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
              for n, v in rounds.items()}  # fmt: skip
    for name, (p50, p99) in median.items():
        base50, base99 = median["bank_reads_only"]
        print(f"median_of_3 method={name} p50_ms={p50:.1f} p99_ms={p99:.1f} "
              f"p50_x_reads={p50 / base50:.2f} p99_x_reads={p99 / base99:.2f}")  # fmt: skip
    pre, live = median["precomputed"], median["request_time"]
    print(f"request_time_over_precomputed p50={live[0] / pre[0]:.1f}x p99={live[1] / pre[1]:.1f}x "
          f"{_load()}")  # fmt: skip
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", help="an existing database (else a temporary SQLite)")
    parser.add_argument("--no-seed", action="store_true", help="the database is seeded already")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        asyncio.run(run(url, args.customers, args.requests, not args.no_seed))


if __name__ == "__main__":
    main()
