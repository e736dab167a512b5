"""The crisis desk's costs: the worker reading stored posts and the topic board over them.

Run: .venv/bin/python benchmarks/crisis_desk.py [posts]   (default 20,000: two hours at the
issue's 10,000 posts an hour; about a minute)

Stores ``posts`` analysed posts spread over the last two hours in a fresh SQLite file (three
keywords each from a banking vocabulary of twenty, 30 % negative, influence 0–60), then times
one worker run over all of them (kefu.social.crisis.worker: read by id, feed the burst
detector, fold into alerts, commit) and the desk's topic board over the same two hours
(kefu.social.crisis.views.board: the SQL read plus kefu.social.topics.topic_board), median of
three. Prints posts a second and milliseconds, with the load average: the machine is shared.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import kefu.db.models  # noqa: F401 - every table
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade
from kefu.social.crisis.notify import Notifier
from kefu.social.crisis.settings import CrisisSettings
from kefu.social.crisis.views import board
from kefu.social.crisis.worker import CrisisWorker
from kefu.social.models import SocialPost

VOCABULARY = ["信用卡", "账单", "还款", "手机银行", "理财", "网点", "积分", "额度", "年费", "分期",
              "转账", "挂失", "密码", "利率", "存款", "贷款", "客服", "排队", "短信", "验证码"]  # fmt: skip


async def measure(url: str, count: int) -> None:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    rng = random.Random(1)
    now = utcnow()
    start = now - timedelta(hours=2)
    async with sessionmaker() as db:
        for n in range(count):
            at = start + timedelta(seconds=7200 * n / count)
            keywords = rng.sample(VOCABULARY, 3)
            db.add(SocialPost(
                platform="weibo", account="bank", external_id=str(n), kind="mention",
                author_uid=f"u{n % 5000}", author_name="网友", text="".join(keywords), posted_at=at,
                received_at=at, sentiment_label="negative" if rng.random() < 0.3 else "neutral",
                keywords=keywords, topic=keywords[0], influence=rng.uniform(0, 60), state="queued",
            ))  # fmt: skip
        await db.commit()
    settings = CrisisSettings(interval=0)
    worker = CrisisWorker(sessionmaker, settings, Notifier(settings))
    began = time.perf_counter()
    result = await worker.run_once(now=now)
    took = time.perf_counter() - began
    print(f"worker: {result.posts} posts in {took:.2f} s = {result.posts / took:.0f} posts/s "
          f"({len(result.new_alerts)} alerts)")  # fmt: skip
    times = []
    async with sessionmaker() as db:
        for _ in range(3):
            began = time.perf_counter()
            topics = await board(db, now=now, hours=2)
            times.append(time.perf_counter() - began)
    print(
        f"board over {count} posts: median {sorted(times)[1] * 1000:.0f} ms, {len(topics)} topics"
    )
    print(f"load average: {os.getloadavg()[0]:.1f}")
    await engine.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'crisis.db'}"
        upgrade(url)
        asyncio.run(measure(url, count))


if __name__ == "__main__":
    main()
