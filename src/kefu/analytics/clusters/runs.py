"""A clustering run (the page ``/analytics/clusters``): the period's signed-in customers'
features, the clusters, each cluster's trend per day and bank profile, stored with its
members so export and save-as-segment take exactly what the page showed.

A run takes seconds (reading the period, choosing k over half-samples, reading profiles from
the bank), so it runs in the background and the page polls its progress. The heavy steps run
in a daemon thread: when the app stops, the task is cancelled at once and the thread, which
holds nothing but memory, is left to finish or die with the process — nothing waits for it.
A run found still "running" long after it started died with its process (``STALE``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.analytics import bank_segments
from kefu.analytics.analyses.period import Period
from kefu.analytics.clusters import cluster
from kefu.analytics.clusters.features import NAMES, customer_features
from kefu.analytics.clusters.models import ClusterMember, ClusterRun
from kefu.analytics.enrich import customer_hash
from kefu.analytics.store.base import EventStore
from kefu.bank.port import BankPort
from kefu.db.base import utcnow

T = TypeVar("T")
STALE = timedelta(minutes=15)
PROFILED = 100  # customers per cluster whose bank profile is read (the bank is someone's system)
_tasks: set[asyncio.Task[None]] = set()  # held so they are not collected while running


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a daemon thread (see the module's note on stopping)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value)

    def work() -> None:
        try:
            value, error = func(*args), None
        except Exception as exc:  # handed to the awaiting task
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: the app stopped
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, daemon=True, name="kefu-clustering").start()
    return await done


async def start(db: AsyncSession, *, site: str, since: date, until: date, actor: str) -> ClusterRun:
    run = ClusterRun(site=site, since=since, until=until, status="running", progress=0,
                     step="排队中", created_by=actor, result={})  # fmt: skip
    db.add(run)
    await db.flush()
    return run


async def running(db: AsyncSession, site: str) -> ClusterRun | None:
    """The site's run still going (started less than ``STALE`` ago), if any."""
    return await db.scalar(
        select(ClusterRun)
        .where(ClusterRun.site == site, ClusterRun.status == "running",
               ClusterRun.created_at > utcnow() - STALE)
        .order_by(ClusterRun.id.desc())
        .limit(1)
    )  # fmt: skip


def launch(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: int, store: EventStore,
    bank: BankPort, key: bytes,
) -> None:  # fmt: skip
    """Run in the background of the running app."""
    task = asyncio.create_task(execute(sessionmaker, run_id, store, bank, key),
                               name=f"clustering-{run_id}")  # fmt: skip
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _update(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: int, **values: Any
) -> None:
    async with sessionmaker() as db:
        run = await db.get(ClusterRun, run_id)
        if run is not None:
            for name, value in values.items():
                setattr(run, name, value)
            await db.commit()


def _trends(store: EventStore, period: Period, of: dict[str, int], k: int) -> list[list[int]]:
    """Sessions per day of each cluster's members."""
    rows = store.query(
        f"""SELECT customer_hash, day, count(DISTINCT session_id) FROM events
            WHERE {period.where()} AND customer_hash <> '' GROUP BY customer_hash, day""",
        period.params(),
    )
    days = (period.until - period.since).days + 1
    out = [[0] * days for _ in range(k)]
    for h, day, n in rows:
        c = of.get(h)
        if c is not None:
            d = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
            out[c][(d - period.since).days] += int(n)
    return out


async def _bank_profile(bank: BankPort, numbers: list[str], today: date) -> dict[str, Any]:
    found = []
    for start_ in range(0, len(numbers), 20):  # a few at a time, as bank_segments does
        part = numbers[start_ : start_ + 20]
        # the same profile read as the bank segments page (age band, tier, products)
        found += await asyncio.gather(*(bank_segments._profile(bank, n, today) for n in part))
    got = [s for s in found if s is not None]
    order = {label: i for i, (_, label) in enumerate(bank_segments.AGE_BANDS)}
    ages = Counter(s.age_band for s in got)
    products = Counter(p for s in got for p in s.products)
    return {
        "profiled": len(got),
        "age_band": sorted(ages.items(), key=lambda kv: order.get(kv[0], 99)),
        "tier": Counter(s.tier for s in got).most_common(),
        "products": [(p, n / len(got)) for p, n in products.most_common(6)] if got else [],
    }


async def execute(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: int, store: EventStore,
    bank: BankPort, key: bytes,
) -> None:  # fmt: skip
    """The run's work; a failure is recorded on the run, in words, never raised."""
    try:
        async with sessionmaker() as db:
            run = await db.get(ClusterRun, run_id)
            assert run is not None
            period = Period(run.site, run.since, run.until)
        await _update(sessionmaker, run_id, progress=10, step="读取访问记录")
        features = await _in_thread(customer_features, store, period)
        if len(features.hashes) < 10:
            await _update(sessionmaker, run_id, status="failed", finished_at=utcnow(),
                          error=f"期间内登录客户太少（{len(features.hashes)} 位），至少需要 10 位")  # fmt: skip
            return
        await _update(sessionmaker, run_id, progress=30, step="聚类（选择簇数）",
                      customers=len(features.hashes))  # fmt: skip
        found = await _in_thread(cluster, features.x, NAMES)
        of = dict(zip(features.hashes, (int(c) for c in found.assignments), strict=True))
        await _update(sessionmaker, run_id, progress=60, step="统计趋势")
        trends = await _in_thread(_trends, store, period, of, found.k)
        await _update(sessionmaker, run_id, progress=70, step="关联银行客户资料")
        async with sessionmaker() as db:
            numbers = await bank_segments.candidates(db, bank)
        by_hash = {h: n for n in numbers if (h := customer_hash(key, n)) in of}
        members_of: dict[int, list[str]] = defaultdict(list)
        for h, n in sorted(by_hash.items(), key=lambda kv: kv[1]):
            members_of[of[h]].append(n)
        clusters = []
        for c in found.clusters:
            top = sorted(c.lift.items(), key=lambda kv: -abs(kv[1]))[:5]
            clusters.append({
                "index": c.index, "size": c.size, "label": c.label,
                "share": c.size / len(features.hashes),
                "top": [{"name": n, "up": v > 0, "lift": round(v, 2)} for n, v in top],
                "profile": {n: round(v, 2) for n, v in c.profile.items()},
                "trend": trends[c.index], "exportable": len(members_of[c.index]),
                "bank": await _bank_profile(bank, members_of[c.index][:PROFILED], period.until),
            })  # fmt: skip
        result = {
            "days": [(period.since + timedelta(days=i)).isoformat()
                     for i in range((period.until - period.since).days + 1)],
            "clusters": clusters,
            "scores": [{"k": s.k, "silhouette": round(s.silhouette, 3),
                        "stability": round(s.stability, 3)} for s in found.scores],
        }  # fmt: skip
        async with sessionmaker() as db:
            rows = [{"run_id": run_id, "cluster": c, "customer_hash": h,
                     "customer_no": by_hash.get(h)} for h, c in of.items()]  # fmt: skip
            for i in range(0, len(rows), 5000):
                await db.execute(insert(ClusterMember), rows[i : i + 5000])
            run = await db.get(ClusterRun, run_id)
            assert run is not None
            run.k, run.result = found.k, result
            run.silhouette = None if np.isnan(found.silhouette) else found.silhouette
            run.stability = None if np.isnan(found.stability) else found.stability
            run.status, run.progress, run.step, run.finished_at = "done", 100, "", utcnow()
            await db.commit()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await _update(sessionmaker, run_id, status="failed", finished_at=utcnow(),
                      error=f"聚类失败：{type(exc).__name__}: {exc}"[:500])  # fmt: skip


def state(run: ClusterRun) -> str:
    """running, done, failed — or interrupted (its process stopped while it ran)."""
    if run.status == "running" and utcnow() - run.created_at > STALE:
        return "interrupted"
    return run.status


async def exportable(db: AsyncSession, run_id: int, index: int) -> list[str]:
    """The customer numbers of one cluster of a finished run, sorted (LookupError if none)."""
    run = await db.get(ClusterRun, run_id)
    if run is None or run.status != "done" or not 0 <= index < run.k:
        raise LookupError(f"no cluster {index} in run {run_id}")
    rows = await db.scalars(
        select(ClusterMember.customer_no)
        .where(ClusterMember.run_id == run_id, ClusterMember.cluster == index,
               ClusterMember.customer_no.is_not(None))
        .order_by(ClusterMember.customer_no)
    )  # fmt: skip
    return [n for n in rows if n]
