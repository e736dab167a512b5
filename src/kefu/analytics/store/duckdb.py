"""The DuckDB event store: one file under the data directory, no server.

DuckDB allows one writer process per file; inside the process one connection is shared and
each thread works through its own cursor (DuckDB's rule for threads). A batch goes in as one
Arrow table (built column by column in C): DuckDB reads it without converting Python objects
one by one, ~20x faster than parameters (benchmarks/analytics_ingest.py).

Closing while another thread runs a query (the web process shutting down during an alerts
check or a page's query) would fail: DuckDB refuses to close a connection a cursor is busy on.
So every call marks its cursor busy while it runs, and ``close`` interrupts the busy ones and
waits for them to leave before closing; a call interrupted so, or made after, raises
``StoreClosed``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kefu.analytics.store.base import COLUMNS, StoreClosed, held_clause
from kefu.logs import get_logger

log = get_logger(__name__)

_ARROW = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32(),
          "INTEGER": pa.int32(), "DOUBLE": pa.float64()}  # fmt: skip
SCHEMA = pa.schema([(name, _ARROW[kind]) for name, kind in COLUMNS.items()])


class DuckDBStore:
    # How long ``close`` waits for interrupted calls to leave (an interrupt is checked between
    # DuckDB's vectors: milliseconds; a Python caller between two statements may take longer).
    CLOSE_WAIT = 30.0

    def __init__(self, path: str | Path = ":memory:", threads: int = 2) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        # DuckDB starts a thread per core and more; on a small shared machine that costs
        # more in switching than it gains (an insert was 6x slower with the default).
        self._con = duckdb.connect(self.path, config={"threads": threads})
        self._local = threading.local()
        self._calls = threading.Condition()
        self._busy: Counter[duckdb.DuckDBPyConnection] = Counter()  # cursor → calls running
        self._closed = False
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS events ("
            + ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
            + ")"
        )
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS campaign_costs (campaign VARCHAR PRIMARY KEY, "
            "cost DOUBLE NOT NULL, value_per_conversion DOUBLE NOT NULL)"
        )

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor, marked busy until the block ends (``close`` waits for it)."""
        with self._calls:
            if self._closed:
                raise StoreClosed("the analytics store is closed")
            cursor = getattr(self._local, "cursor", None)
            if cursor is None:
                cursor = self._local.cursor = self._con.cursor()
            self._busy[cursor] += 1
        try:
            yield cursor
        except duckdb.InterruptException as exc:
            if self._closed:
                raise StoreClosed("the analytics store was closed during the query") from exc
            raise
        finally:
            with self._calls:
                self._busy[cursor] -= 1
                if self._busy[cursor] <= 0:
                    del self._busy[cursor]
                self._calls.notify_all()

    def insert(self, columns: dict[str, Sequence[Any]]) -> int:
        count = len(columns["event_id"])
        if count:
            arrays = [pa.array(columns[f.name], type=f.type) for f in SCHEMA]
            batch = pa.table(arrays, schema=SCHEMA)
            with self._cursor() as cursor:
                cursor.register("_batch", batch)
                try:
                    cursor.execute("INSERT INTO events SELECT * FROM _batch")
                finally:
                    cursor.unregister("_batch")
        return count

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            return cursor.execute(sql, list(params)).fetchall()

    def drop_before(self, day: date) -> int:
        with self._cursor() as cursor:
            row = cursor.execute("DELETE FROM events WHERE day < ?", [day]).fetchone()
        return int(row[0]) if row else 0

    def purge_before(
        self, day: date, keep_customers: Sequence[str] = (), *, dry_run: bool = False
    ) -> tuple[int, int]:
        keep = [h for h in dict.fromkeys(keep_customers) if h]
        if not keep:
            if not dry_run:
                return self.drop_before(day), 0
            with self._cursor() as cursor:
                (due,) = cursor.execute(
                    "SELECT count(*) FROM events WHERE day < ?", [day]
                ).fetchone()
            return int(due), 0
        held = held_clause(", ".join("?" * len(keep)))
        params = [day, *keep, *keep]
        with self._cursor() as cursor:
            due, kept = cursor.execute(
                f"SELECT count(*) FILTER (WHERE NOT {held}), count(*) FILTER (WHERE {held}) "
                "FROM events WHERE day < ?",
                [*keep, *keep, *keep, *keep, day],
            ).fetchone()
            if not dry_run and due:
                cursor.execute(f"DELETE FROM events WHERE day < ? AND NOT {held}", params)
        return int(due), int(kept)

    def set_campaign_cost(self, campaign: str, cost: float, value_per_conversion: float) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO campaign_costs VALUES (?, ?, ?)",
                [campaign, cost, value_per_conversion],
            )

    def campaign_costs(self) -> dict[str, tuple[float, float]]:
        rows = self.query("SELECT campaign, cost, value_per_conversion FROM campaign_costs")
        return {name: (cost, value) for name, cost, value in rows}

    def count(self) -> int:
        return int(self.query("SELECT count(*) FROM events")[0][0])

    def close(self) -> None:
        """Interrupts the calls running in other threads, waits for them to leave, closes.
        Calls made after get ``StoreClosed``; closing twice does nothing."""
        with self._calls:
            if self._closed:
                return
            self._closed = True
            deadline = time.monotonic() + self.CLOSE_WAIT
            # Again every 0.1 s: a call that marked itself busy but had not yet started its
            # statement when interrupted would miss the first interrupt.
            while self._busy and time.monotonic() < deadline:
                for cursor in self._busy:
                    cursor.interrupt()
                self._calls.wait_for(lambda: not self._busy, timeout=0.1)
            if self._busy:
                # Only a caller stuck in Python between statements: closing now would fail.
                log.warning("analytics.store_close_timeout", busy=sum(self._busy.values()))
                return
        self._con.close()
