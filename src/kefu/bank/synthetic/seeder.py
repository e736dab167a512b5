"""Writes the synthetic bank into a database, block by block, reporting progress."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from operator import itemgetter

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from kefu.bank.synthetic import schema
from kefu.bank.synthetic.generator import BLOCK, branch_rows, generate_block, product_rows

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


class _BulkWriter:
    """Inserts rows as positional tuples through the driver's executemany.

    SQLAlchemy's per-row dict handling took two thirds of seeding time; the column types'
    own bind processors still convert values (dates on SQLite), so the stored data is the
    same as through ``insert(table)``.
    """

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self.columns = [c.name for c in table.columns]
        self.processors = [c.type.bind_processor(dialect) for c in table.columns]
        compiled = insert(table).compile(dialect=dialect)
        self.sql = str(compiled)
        # The compiled statement names its parameters in its own order; follow it.
        order = list(compiled.positiontup or self.columns)
        by_name = dict(zip(self.columns, self.processors, strict=True))
        self.getter = itemgetter(*order)
        self.processed = [(i, by_name[name]) for i, name in enumerate(order) if by_name[name]]

    def params(self, rows: list[dict]) -> list[tuple]:
        getter, processed = self.getter, self.processed
        if not processed:
            return [getter(row) for row in rows]
        params = []
        for row in rows:
            values = list(getter(row))
            for i, process in processed:
                if values[i] is not None:
                    values[i] = process(values[i])
            params.append(tuple(values))
        return params


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
    writers = [(attr, _BulkWriter(table, engine.dialect)) for attr, table in _BLOCK_TABLES]

    def prepare(block_no: int) -> tuple[int, int, list[tuple[str, list[tuple]]]]:
        block = generate_block(seed, block_no, customers, as_of)
        batches = [(w.sql, w.params(getattr(block, attr))) for attr, w in writers]
        return len(block.customers), block.row_count(), batches

    blocks = (customers + BLOCK - 1) // BLOCK
    # The next block is generated on a worker thread while the database writes this one
    # (SQLite and asyncpg release the GIL while they work).
    pending = asyncio.create_task(asyncio.to_thread(prepare, 0))
    for block_no in range(blocks):
        n_customers, n_rows, batches = await pending
        if block_no + 1 < blocks:
            pending = asyncio.create_task(asyncio.to_thread(prepare, block_no + 1))
        # One transaction per block: a crash leaves whole customers, never half of one.
        async with engine.begin() as conn:
            for sql, params in batches:
                if params:
                    await conn.exec_driver_sql(sql, params)
        rows += n_rows
        done += n_customers
        if progress:
            progress(done, customers)
    return SeedResult(customers=customers, rows=rows)
