"""Indexing throughput of the search backfill: ``search.index_new`` (jieba in the process, as the
quality worker runs it) against ``kefu quality reindex`` with 1 and 2 worker processes, in the
same run and alternated segment by segment (the machine is shared: each setting sees the same
load; the load average is printed before and after). Median of the runs per setting.

    python benchmarks/search_reindex.py --segment 4000 --runs 3
    python benchmarks/search_reindex.py --database-url postgresql://kefu:kefu@127.0.0.1:5432/kefu_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from quality_search import fill, load

from kefu.conversations import reindex, search
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade


def _children_cpu(pools: dict[int, object]) -> float:
    """CPU seconds (user + system) used so far by every pool worker (/proc, Linux)."""
    total = 0.0
    for pool in pools.values():
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def measure(url: str, segment: int, runs: int, processes: list[int]) -> None:
    settings = ["index_new"] + [f"{p} processes" for p in processes]
    await fill(url, segment * runs * len(settings))
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    search.words("预热", for_index=True)
    pools = {p: reindex.make_pool(p) for p in processes}
    for p, pool in pools.items():  # workers started and their dictionaries loaded first
        for f in [pool.submit(reindex._warm) for _ in range(p)]:
            f.result()
    rates: dict[str, list[float]] = {s: [] for s in settings}
    cpu_ms: dict[str, list[tuple[float, float]]] = {s: [] for s in settings}
    print(f"start, {load()}")
    for run in range(runs):
        for name in settings:
            t = time.perf_counter()
            cpu, workers = time.process_time(), _children_cpu(pools)
            if name == "index_new":
                done = 0
                while done < segment:
                    async with maker() as db:
                        step = await search.index_new(
                            db, batch=min(500, segment - done), lag_seconds=0
                        )
                        await db.commit()
                    done += step
            else:
                p = int(name.split()[0])
                done = (
                    await reindex.reindex(
                        maker, pools[p], processes=p, limit=segment, lag_seconds=0
                    )
                ).indexed
            rate = done / (time.perf_counter() - t)
            rates[name].append(rate)
            parent = 1000 * (time.process_time() - cpu) / done
            worker = 1000 * (_children_cpu(pools) - workers) / done
            cpu_ms[name].append((parent, worker))
            print(
                f"  run {run + 1} {name:<12} {done} messages, {rate:6.0f} messages/s, "
                f"CPU per message: parent {parent:.3f} ms, workers {worker:.3f} ms, {load()}"
            )
    for pool in pools.values():
        pool.shutdown()
    await engine.dispose()
    base = statistics.median(rates["index_new"])
    for name in settings:
        med = statistics.median(rates[name])
        parent = statistics.median(c[0] for c in cpu_ms[name])
        worker = statistics.median(c[1] for c in cpu_ms[name])
        print(
            f"{name:<12} median {med:6.0f} messages/s  ({med / base:.2f}× index_new); "
            f"CPU per message: parent {parent:.3f} ms, workers {worker:.3f} ms"
        )
    print(f"end, {load()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segment", type=int, default=4000, help="messages per measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--database-url", default=None, help="an EMPTY database (it is reset)")
    args = parser.parse_args()
    if args.database_url:
        url = args.database_url
        import asyncpg

        async def reset() -> None:
            conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            await conn.close()

        asyncio.run(reset())
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'reindex.db'}"
    upgrade(url)
    print(f"database: {url.split('://')[0]}")
    processes = [int(p) for p in args.processes.split(",")]
    asyncio.run(measure(url, args.segment, args.runs, processes))


if __name__ == "__main__":
    main()
