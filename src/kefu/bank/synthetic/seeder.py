"""Writes the synthetic bank into a database, block by block, reporting progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kefu.bank.synthetic import schema
from kefu.bank.synthetic.generator import branch_rows, iter_blocks, product_rows

ProgressCallback = Callable[[int, int], None]  # (customers done, customers total)


class AlreadySeeded(RuntimeError):
    pass


@dataclass(frozen=True)
class SeedResult:
    customers: int
    rows: int


_BLOCK_TABLES = [
    ("customers", schema.customers),
    ("accounts", schema.accounts),
    ("cards", schema.cards),
    ("bills", schema.bills),
    ("bill_lines", schema.bill_lines),
    ("transactions", schema.transactions),
    ("holdings", schema.holdings),
]


async def seeded_customer_count(engine: AsyncEngine) -> int | None:
    """Customers in the synthetic bank, or None when it was never seeded."""
    async with engine.connect() as conn:
        has_table = await conn.run_sync(
            lambda sync_conn: sync_conn.dialect.has_table(sync_conn, schema.customers.name)
        )
        if not has_table:
            return None
        return int(
            (await conn.execute(select(func.count()).select_from(schema.customers))).scalar_one()
        )


async def seed(
    engine: AsyncEngine,
    *,
    customers: int,
    seed: int = 42,
    as_of: date,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> SeedResult:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    existing = await seeded_customer_count(engine)
    if existing and not reset:
        raise AlreadySeeded(
            f"the synthetic bank already holds {existing} customers; use --reset to replace it"
        )
    async with engine.begin() as conn:
        if reset:
            await conn.run_sync(schema.metadata.drop_all)
        await conn.run_sync(schema.metadata.create_all)
        await conn.execute(insert(schema.products), product_rows())
        await conn.execute(insert(schema.branches), branch_rows())
        await conn.execute(
            insert(schema.meta),
            [
                {"key": "seed", "value": str(seed)},
                {"key": "as_of", "value": as_of.isoformat()},
                {"key": "customers", "value": str(customers)},
            ],
        )
    rows = 0
    done = 0
    for block in iter_blocks(seed, customers, as_of):
        # One transaction per block: a crash leaves whole customers, never half of one.
        async with engine.begin() as conn:
            for attr, table in _BLOCK_TABLES:
                block_rows = getattr(block, attr)
                if block_rows:
                    await conn.execute(insert(table), block_rows)
        rows += block.row_count()
        done += len(block.customers)
        if progress:
            progress(done, customers)
    return SeedResult(customers=customers, rows=rows)
