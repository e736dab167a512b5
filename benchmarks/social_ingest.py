"""Posts ingested, analysed and routed per hour on one process, and the latency of each.

Run: .venv/bin/python benchmarks/social_ingest.py [--posts 2000] [--runs 3]
     [--database-url postgresql://…] [--deep auto|fast]

What one post costs here is what the Weibo channel pays per stored item: one transaction that
runs the pipeline's social route (``kefu.social.route.to_social_desk``: dedupe insert, author
history, ``analyse_post``, listening-rule match for captured posts, a conversation opened and
queued by the routing workflow for posts addressed to the bank) and commits. The posts are the
Weibo simulator's generated traffic (``kefu.channels.weibo.simulator.traffic.generate``: our own
templates, ~5 % spam, reposts, listening posts) turned into the channel's message contract.

Baseline in the same run, on the same posts: ``analyse_post`` alone (no database), timed
alternately with the whole route so both see the same machine. The difference is what storing
and routing add. Each run starts from a fresh database (the dedupe would otherwise turn the
second run into lookups). Load average before and after; median of ``--runs`` runs.
Target (issue #14): 10,000 posts/hour on one process, p99 analysis + routing < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kefu.channels.weibo.simulator.traffic import generate
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade
from kefu.language.analyze import load_models
from kefu.messaging.contract import InboundMessage
from kefu.social.analysis import Author, PostInput, analyse_post
from kefu.social.models import ListeningRule
from kefu.social.route import to_social_desk

TARGET_PER_HOUR = 10_000
TARGET_P99_MS = 200
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def messages(n: int, seed: int) -> list[InboundMessage]:
    """``n`` generated posts as the Weibo channel hands them to the pipeline."""
    out = []
    for sim in generate(seed, START, None, per_minute=60):
        post: dict[str, Any] = sim.post
        user = post.get("author") or {}
        kind = post.get("kind", "mention")
        social = {
            "platform": "weibo", "kind": kind, "external_id": str(post.get("key")),
            "posted_at": sim.at.isoformat(), "url": "",
            "author": {"uid": "u" + str(zlib.crc32(str(user.get("screen_name", "")).encode())),
                       "name": str(user.get("screen_name") or ""),
                       "followers": int(user.get("followers_count") or 0),
                       "verified_type": int(user.get("verified_type", -1))},
            "reposts": int(post.get("reposts_count") or 0),
            "comments": int(post.get("comments_count") or 0),
            "likes": int(post.get("attitudes_count") or 0),
        }  # fmt: skip
        out.append(
            InboundMessage(
                channel="weibo",
                account="bank",
                sender=social["author"]["uid"],
                text=str(post.get("text") or ""),
                identity_kind="weibo_uid",
                external_id=social["external_id"],
                metadata={"public": True, "social": social},
            )  # fmt: skip
        )
        if len(out) == n:
            return out
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def one_run(url: str, posts: list[InboundMessage], deep: bool | None) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as db:  # captured posts are kept only when a rule matches
        db.add(ListeningRule(name="本行", include_terms=["某某银行"], exclude_terms=[],
                             platforms=[], active=True, created_by="bench"))  # fmt: skip
        await db.commit()
    route: list[float] = []
    alone: list[float] = []
    states: dict[str, int] = {}
    try:
        for message in posts:
            social = message.metadata["social"]
            author = social["author"]
            started = time.perf_counter()
            analyse_post(
                PostInput(message.text, Author(author["uid"], followers=author["followers"],
                                               verified_type=author["verified_type"])),
                deep=deep,
            )  # fmt: skip
            alone.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with sessionmaker() as db:
                routed = await to_social_desk(db, message)
                await db.commit()
            route.append(time.perf_counter() - started)
            state = routed.meta.get("state", "?") if routed else "not taken"
            states[state] = states.get(state, 0) + 1
    finally:
        await engine.dispose()
    return {
        "route": _figures(route),
        "analyse_post alone": _figures(alone),
        "states": states,
    }


def _figures(seconds: list[float]) -> dict[str, float]:
    return {
        "per_hour": 3600 / statistics.fmean(seconds),
        "p50_ms": 1000 * percentile(seconds, 0.5),
        "p99_ms": 1000 * percentile(seconds, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (emptied each run)")
    parser.add_argument("--deep", choices=["auto", "fast"], default="auto")
    args = parser.parse_args()
    deep = None if args.deep == "auto" else False
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one process, one core
    load_models(deep=deep is not False)
    posts = messages(args.posts, seed=1)
    print(f"{len(posts):,} posts per run, {args.runs} runs, encoder: {args.deep}, "
          f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")  # fmt: skip
    print(f"load average before: {os.getloadavg()}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            if args.database_url:
                url = args.database_url
                _empty_postgres(url)
            else:
                url = f"sqlite:///{Path(tmp) / f'run{r}.db'}"
            started = time.perf_counter()
            runs.append(asyncio.run(one_run(url, posts, deep)))
            print(f"run {r + 1}: {time.perf_counter() - started:.0f} s, states {runs[-1]['states']}",
                  flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    for name in ("route", "analyse_post alone"):
        med = {k: statistics.median(run[name][k] for run in runs) for k in runs[0][name]}
        label = "ingest+analyse+route" if name == "route" else name
        print(f"{label:22s} {med['per_hour']:>10,.0f} posts/hour  p50 {med['p50_ms']:.1f} ms  "
              f"p99 {med['p99_ms']:.1f} ms")  # fmt: skip
    print(f"target (issue #14): {TARGET_PER_HOUR:,} posts/hour, p99 < {TARGET_P99_MS} ms")


def _empty_postgres(url: str) -> None:
    import asyncpg

    from kefu.config import normalise_database_url

    async def go() -> None:
        dsn = normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(go())


if __name__ == "__main__":
    main()
