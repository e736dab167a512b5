"""CPU time of `kefu crosssell score-all` on --customers synthetic customers (20,000 by
default): the bank read per customer (~10 calls each: what a bank port without a bulk read
still does) against the synthetic bank's bulk read (`SyntheticBank.read_many`, four queries a
chunk), in the same run, median of --rounds (3) with the order rotated, on a fresh SQLite bank
(or --database-url's). Both write the same rows (checked). The machine is shared: read the
CPU-seconds and their ratio, not the wall time; the load average is printed before and after.

    .venv/bin/python benchmarks/crosssell_score_all.py [--customers 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.generator import customer_no
from kefu.bank.synthetic.seeder import seed
from kefu.crosssell import scores, training
from kefu.crosssell.models import OfferScore
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade

AS_OF = date(2026, 6, 30)


class PerCustomer:
    """The synthetic bank without its bulk read: score-all reads customer by customer."""

    def __init__(self, bank: SyntheticBank) -> None:
        self._bank = bank

    def __getattr__(self, name: str) -> Any:
        if name == "read_many":
            raise AttributeError(name)
        return getattr(self._bank, name)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def run(url: str, customers: int, rounds: int, reseed: bool) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    if reseed:
        await seed(engine, customers=customers, as_of=AS_OF, reset=True)
    models = training.Models.load(training.MODEL_FILE)
    nos = [customer_no(i) for i in range(customers)]
    ways = {"per_customer": PerCustomer(bank), "bulk": bank}
    cpu: dict[str, list[float]] = {w: [] for w in ways}
    rows: dict[str, dict[str, str]] = {}
    print(f"customers={customers} load_before={_load()}")
    for r in range(rounds):
        order = list(ways) if r % 2 == 0 else list(reversed(ways))
        for way in order:
            started = time.process_time()
            await scores.score_all(sessions, ways[way], nos, models, today=AS_OF, force=True)
            cpu[way].append(time.process_time() - started)
            async with sessions() as db:
                rows[way] = dict((await db.execute(
                    select(OfferScore.customer_no, OfferScore.scores))).all())  # fmt: skip
            print(f"round={r + 1} {way} cpu_s={cpu[way][-1]:.2f} "
                  f"rate={customers / cpu[way][-1]:.0f}/cpu_s")  # fmt: skip
    assert rows["bulk"] == rows["per_customer"], "the two reads scored differently"
    a, b = statistics.median(cpu["per_customer"]), statistics.median(cpu["bulk"])
    print(f"median cpu_s per_customer={a:.2f} bulk={b:.2f} ratio={a / b:.1f}x "
          f"load_after={_load()} same_rows=True")  # fmt: skip
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="kefu-scoreall-"))
        url = f"sqlite+aiosqlite:///{folder / 'bank.db'}"
    upgrade(url)
    asyncio.run(run(url, args.customers, args.rounds, reseed=args.database_url is None))


if __name__ == "__main__":
    main()
