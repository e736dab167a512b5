"""Behaviour analytics queries over a large generated set (issue 15, "Measured"): each
analysis as kefu runs it (its function: SQL built, run through the store, rows shaped) against
the same SQL run directly on a DuckDB connection, in one run; target ratio <= 1.2.

    python benchmarks/analytics_queries.py [--events 2000000] [--file /tmp/kefu-bench.duckdb]

The set: the demo generator's month (about --events / 20 of it generated), then copied with
new visitor and session ids until --events (20,000,000 for the issue's figure; the file is
kept and reused). Queries run on one DuckDB instance with 2 threads. ``--chdb``: the same set
copied into chDB (ClickHouse's engine in-process) and the same analyses through kefu's
ClickHouse store against the same SQL on the chDB session.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kefu.analytics.analyses import Period, failures, funnel, paths, traffic
from kefu.analytics.analyses.funnel import funnel_sql
from kefu.analytics.analyses.paths import paths_sql
from kefu.analytics.generate import generate
from kefu.analytics.store import COLUMNS, DuckDBStore

B = "/demo/bank"
STEPS = [f"{B}/transfer", f"{B}/transfer/confirm", f"{B}/transfer/verify", f"{B}/transfer/done"]


def build(path: Path, events: int) -> None:
    store = DuckDBStore(path, threads=2)
    have = store.count()
    if have >= events:
        store.close()
        return
    if have == 0:
        generate(store, 30, max(1, events // 20 // 16))
    base = store.count()
    copies = max(0, -(-events // base) - 1)
    cols = ", ".join(
        f"{c} || '-{{k}}'" if c in ("event_id", "session_id", "visitor_id") else c for c in COLUMNS
    )
    for k in range(1, copies + 1):
        store.query(
            f"INSERT INTO events SELECT {cols.format(k=k)} FROM events WHERE event_id NOT LIKE '%-%'"
        )
    store.query("CHECKPOINT")
    store.close()


def paired(a: Callable[[], Any], b: Callable[[], Any], repeat: int) -> list[float]:
    """Median wall and CPU seconds of ``a`` and of ``b``, run in turns (a, b, a, b, …) so a
    change in the machine's load falls on both alike: [a wall, b wall, a CPU, b CPU]."""
    a(), b()  # warm
    times: list[list[float]] = [[], [], [], []]
    for _ in range(repeat):
        for k, run in enumerate((a, b)):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[k].append(time.perf_counter() - wall)
            times[k + 2].append(time.process_time() - cpu)
    return [statistics.median(t) for t in times]


def timed(run: Callable[[], Any], repeat: int) -> float:
    run()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--file", default="/tmp/kefu-analytics-bench.duckdb")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chdb", action="store_true",
                        help="also on ClickHouse's engine in-process (pip install chdb)")  # fmt: skip
    args = parser.parse_args()
    path = Path(args.file)
    started = time.perf_counter()
    build(path, args.events)
    print(f"set ready in {time.perf_counter() - started:.1f} s: {path}")
    store = DuckDBStore(path, threads=2)
    raw = store._con.cursor()  # the same DuckDB instance, without kefu around it
    total = store.count()
    today = datetime.now(UTC).date()
    p = Period.last("demo-bank", 31, today)
    sources_sql = traffic._SESSIONS.format(where=p.where()) + (
        "SELECT channel, device, count(*) FROM first_view GROUP BY ALL ORDER BY 3 DESC"
    )
    errors_sql = f"""SELECT browser, os,
        count(DISTINCT session_id) FILTER (WHERE type IN ('error', 'http_error'))
        / count(DISTINCT session_id) AS rate, count(DISTINCT session_id) AS n
        FROM events WHERE {p.where()} GROUP BY ALL ORDER BY rate DESC"""
    f_sql, f_params = funnel_sql(p, STEPS, 60)
    p_sql, p_params = paths_sql(p, f"{B}/accounts", "after", 3)
    cases = [
        ("funnel (4 steps, 60 min)", lambda st: funnel.funnel(st, p, STEPS, 60),
         lambda: raw.execute(f_sql, f_params).fetchall()),
        ("paths after a page (3 steps)", lambda st: paths.paths(st, p, f"{B}/accounts"),
         lambda: raw.execute(p_sql, p_params).fetchall()),
        ("sources x device", lambda st: traffic.sources_by_device(st, p),
         lambda: raw.execute(sources_sql, p.params()).fetchall()),
        ("error rate by browser x OS", lambda st: failures.error_rate_by_browser_os(st, p),
         lambda: raw.execute(errors_sql, p.params()).fetchall()),
    ]  # fmt: skip
    print(f"{total:,} events; median of {args.repeat} runs each, kefu and direct in turns; "
          f"load average {os.getloadavg()[0]:.1f} (2 cores shared: wall times are noisy, "
          "CPU seconds of the process less so)")  # fmt: skip
    print(f"{'query':<30}{'kefu s':>9}{'DuckDB s':>9}{'ratio':>7}"
          f"{'kefu CPU':>10}{'DuckDB CPU':>11}{'ratio':>7}")  # fmt: skip
    for name, ours, direct in cases:
        a, b, ca, cb = paired(lambda ours=ours: ours(store), direct, args.repeat)
        print(f"{name:<30}{a:>9.2f}{b:>9.2f}{a / b:>7.2f}{ca:>10.2f}{cb:>11.2f}{ca / cb:>7.2f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.chdb:
        on_chdb(store, cases, [f_sql, p_sql, sources_sql, errors_sql],
                [f_params, p_params, p.params(), p.params()], args.repeat)  # fmt: skip
    store.close()


def on_chdb(duck: DuckDBStore, cases: list[Any], sqls: list[str], params: list[Any],
            repeat: int) -> None:  # fmt: skip
    """The same set copied into chDB (through Parquet), kefu's ClickHouse store against the
    same (rewritten) SQL on the chDB session directly, and against DuckDB's times."""
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from clickhouse_connect.driver.binding import finalize_query
    from tests.analytics.chdb_client import ChdbClient

    from kefu.analytics.store.clickhouse import SETTINGS, ClickHouseStore, to_clickhouse

    client = ChdbClient()
    house = ClickHouseStore(client)
    parquet = Path(tempfile.mkdtemp()) / "events.parquet"
    started = time.perf_counter()
    duck.query(f"COPY events TO '{parquet}' (FORMAT parquet)")
    client.session.query(f"INSERT INTO events SELECT * FROM file('{parquet}', Parquet)")
    parquet.unlink()
    print(f"\nchDB: {house.count():,} events copied in {time.perf_counter() - started:.1f} s")
    print(f"{'query':<32}{'kefu s':>10}{'chDB s':>10}{'ratio':>8}{'vs DuckDB':>11}")
    tail = " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in SETTINGS.items())
    for (name, ours, _), sql, ps in zip(cases, sqls, params, strict=True):
        direct_sql = finalize_query(to_clickhouse(sql), list(ps)) + tail
        duck_time = timed(lambda ours=ours: ours(duck), repeat)
        a = timed(lambda ours=ours: ours(house), repeat)
        b = timed(lambda q=direct_sql: client.session.query(q, "ArrowTable"), repeat)
        print(f"{name:<32}{a:>10.3f}{b:>10.3f}{a / b:>8.2f}{a / duck_time:>10.2f}x")


if __name__ == "__main__":
    main()
