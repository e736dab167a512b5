"""A partner's rate limit across 4 web processes: requests admitted per second against the
configured rate, with the shared Redis bucket (kefu.bus.limits.RedisLimits, what the SMS send
API takes from for ``partner:<id>``) and, as the baseline in the same run, each process's own
bucket (what four workers did before the bus: four times the rate).

    .venv/bin/python benchmarks/scaleout_limits.py --redis-url redis://127.0.0.1:6379/7

Each of the 4 processes offers ``--offered`` requests/s (together well over the rate) for
``--seconds``; a request takes one token. Admitted/s counts what passed after the first
``burst`` (the bucket starts full). It measures the limiter as the send API calls it, not the
whole HTTP request (the rest of a send does not change what the bucket admits).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def worker(kind: str, url: str, key: str, rate: float, burst: int, offered: float,
           seconds: float, start_at: float, out: multiprocessing.Queue) -> None:  # fmt: skip
    from kefu.bus.limits import InProcessLimits, RedisLimits

    async def go() -> tuple[int, int, float]:
        limits = RedisLimits(url) if kind == "redis" else InProcessLimits()
        admitted = tried = 0
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.monotonic()
        step = 1.0 / offered
        next_at = began
        while time.monotonic() - began < seconds:
            tried += 1
            if await limits.take(key, 1, rate=rate, burst=burst) == 0:
                admitted += 1
            next_at += step
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        elapsed = time.monotonic() - began
        if kind == "redis":
            await limits.close()  # type: ignore[union-attr]
        return admitted, tried, elapsed

    out.put(asyncio.run(go()))


def measure(kind: str, args: argparse.Namespace) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    key = f"partner:bench-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 3.0  # every process starts together (after its imports)
    procs = [ctx.Process(target=worker, args=(kind, args.redis_url, key, args.rate, args.burst,
                                              args.offered, args.seconds, start_at, out))
             for _ in range(args.processes)]  # fmt: skip
    for p in procs:
        p.start()
    results = [out.get(timeout=args.seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    admitted = sum(r[0] for r in results)
    tried = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    buckets = 1 if kind == "redis" else args.processes  # each full bucket admits its burst
    per_s = (admitted - buckets * args.burst) / elapsed
    return {"limiter": kind, "processes": args.processes, "configured_per_s": args.rate,
            "offered_per_s": round(tried / elapsed, 1), "admitted": admitted,
            "admitted_per_s": round(per_s, 2),
            "vs_configured": f"{(per_s / args.rate - 1) * 100:+.2f} %"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50.0, help="the partner's messages/s")
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--offered", type=float, default=40.0, help="requests/s per process")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print("load average:", " ".join(Path("/proc/loadavg").read_text().split()[:3]), flush=True)
    for kind in ("memory", "redis"):
        print(measure(kind, args), flush=True)
    print("load average:", " ".join(Path("/proc/loadavg").read_text().split()[:3]), flush=True)


if __name__ == "__main__":
    main()
