"""A simulated campaign on the synthetic bank with a planted true uplift: the uplift the
report measures, with its 95 % interval, against the truth.

    .venv/bin/python benchmarks/crosssell_campaign.py [--customers 20000] [--uplift 0.03]
        [--repeats 1000]

Seeds a fresh SQLite bank, runs `kefu.crosssell.campaigns.simulate.run` (car insurance to
customers without it; half held out; planted: 10 % open anyway when they hold a car loan, 2 %
otherwise, plus the true uplift when treated), and prints the report's figures. The single
run's interval either holds the truth or not; the coverage of Newcombe's interval is then
measured on --repeats simulated arms of the same sizes and base rate (binomial draws, no
database): a 95 % interval should hold the truth in about 95 % of them. The baseline in the
same run is the Wald interval's coverage on the same draws.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.generator import customer_no
from kefu.bank.synthetic.seeder import seed
from kefu.crosssell.campaigns import report, service, simulate
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade


def _wald(k1: int, n1: int, k0: int, n0: int) -> tuple[float, float]:
    p1, p0 = k1 / n1, k0 / n0
    half = 1.959964 * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return p1 - p0 - half, p1 - p0 + half


async def run(url: str, customers: int, uplift: float, repeats: int) -> None:
    engine = make_engine(url)
    started = time.perf_counter()
    await seed(engine, customers=customers, as_of=date(2026, 6, 30), reset=True)
    print(f"seeded customers={customers} seconds={time.perf_counter() - started:.0f}")
    bank = SyntheticBank(engine)
    audience = []
    for index in range(customers):
        profile = await bank.get_customer(customer_no(index))
        audience.append((profile.customer_no, profile.mobile))
    planted = simulate.Planted(base=lambda held: 0.10 if "LOAN-CAR" in held else 0.02,
                               true_uplift=uplift)  # fmt: skip
    started = time.perf_counter()
    async with make_sessionmaker(engine)() as db, db.begin():
        campaign = await simulate.run(db, bank, audience, planted, name="benchmark",
                                      product_code="INS-CAR", sub_code="9999",
                                      started_at=datetime(2026, 7, 1, 4, tzinfo=UTC))  # fmt: skip
        rep = await service.campaign_report(db, campaign)
    seconds = time.perf_counter() - started
    u = rep.result
    assert u is not None
    print(f"campaign treated={u.treated_n} holdout={u.holdout_n} "
          f"treated_rate={u.treated_rate:.4f} holdout_rate={u.holdout_rate:.4f} "
          f"seconds={seconds:.1f}")  # fmt: skip
    print(f"true_uplift={uplift:.4f} measured_uplift={u.uplift:.4f} "
          f"ci95=[{u.low:.4f}, {u.high:.4f}] holds_truth={u.low <= uplift <= u.high}")  # fmt: skip
    print(f"cost_yuan={rep.money.cost:.2f} incremental={rep.money.incremental:.1f} "
          f"value_yuan={rep.money.value:.2f} roi={rep.money.roi:.2f}")  # fmt: skip
    # Coverage on arms of the same sizes and the measured hold-out rate as the base.
    rng = np.random.default_rng(7)
    base = u.holdout_rate
    newcombe = wald = 0
    for _ in range(repeats):
        k1 = int(rng.binomial(u.treated_n, base + uplift))
        k0 = int(rng.binomial(u.holdout_n, base))
        r = report.uplift(u.treated_n, k1, u.holdout_n, k0)
        assert r is not None
        newcombe += r.low <= uplift <= r.high
        low, high = _wald(k1, u.treated_n, k0, u.holdout_n)
        wald += low <= uplift <= high
    print(f"coverage repeats={repeats} newcombe={newcombe / repeats:.3f} "
          f"wald_baseline={wald / repeats:.3f} (nominal 0.95)")  # fmt: skip
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--uplift", type=float, default=0.03)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'campaign.db'}"
        upgrade(url)
        asyncio.run(run(url, args.customers, args.uplift, args.repeats))


if __name__ == "__main__":
    main()
