"""Seeding time and peak memory of the synthetic bank.

    .venv/bin/python benchmarks/seed_synthetic_bank.py --customers 100000 1000000

Each size runs in a fresh process (so peak RSS is its own) against a fresh database:
SQLite in a temporary folder by default, or the PostgreSQL named by --database-url (its
synthetic bank is replaced). The baseline in the same run is a 10,000-customer seed: the
ratio of time per customer shows whether seeding stays linear as the bank grows. Generation
alone (no database) is timed too, to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import asyncio, json, resource, sys, time
from datetime import date
from kefu.bank.synthetic.seeder import seed
from kefu.bank.synthetic.generator import iter_blocks
from kefu.db.engine import make_engine

url, customers, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
as_of = date(2026, 11, 29)
started = time.perf_counter()
if mode == "generate":
    rows = sum(block.row_count() for block in iter_blocks(42, customers, as_of))
else:
    async def go():
        engine = make_engine(url)
        try:
            return await seed(engine, customers=customers, as_of=as_of, reset=True)
        finally:
            await engine.dispose()
    rows = asyncio.run(go()).rows
elapsed = time.perf_counter() - started
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"customers": customers, "rows": rows, "seconds": elapsed, "peak_mib": peak_mib}))
"""


def run(url: str, customers: int, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(customers), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--database-url", help="PostgreSQL URL; default: a temporary SQLite file")
    parser.add_argument("--baseline", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:

        def url_for(n: int) -> str:
            return args.database_url or f"sqlite:///{Path(tmp) / f'bank-{n}.db'}"

        base = run(url_for(args.baseline), args.baseline, "seed")
        gen = run("", args.baseline, "generate")
        base_per = base["seconds"] / base["customers"]
        print(f"engine: {'PostgreSQL' if args.database_url else 'SQLite'}")
        print(
            f"baseline {base['customers']:>9,} customers: {base['seconds']:8.1f} s, "
            f"{base['customers'] / base['seconds']:8,.0f} customers/s, {base['rows']:>11,} rows, "
            f"peak {base['peak_mib']:6.0f} MiB"
        )
        print(
            f"generation only {gen['customers']:,} customers: {gen['seconds']:.1f} s "
            f"({gen['seconds'] / base['seconds']:.0%} of the seeding time)"
        )
        for n in args.customers:
            result = run(url_for(n), n, "seed")
            ratio = (result["seconds"] / n) / base_per
            size = ""
            if not args.database_url:
                size = f", file {Path(url_for(n)[10:]).stat().st_size / 2**20:,.0f} MiB"
            print(
                f"seed     {n:>9,} customers: {result['seconds']:8.1f} s, "
                f"{n / result['seconds']:8,.0f} customers/s, {result['rows']:>11,} rows, "
                f"peak {result['peak_mib']:6.0f} MiB{size}; time per customer x{ratio:.2f} "
                "of the baseline"
            )
            if not args.database_url:
                Path(url_for(n)[10:]).unlink()


if __name__ == "__main__":
    main()
