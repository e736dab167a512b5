"""The social reports' cost: loading a period's posts and computing every template and a
custom report over them.

Run: .venv/bin/python benchmarks/social_reports.py [posts]   (default 50,000: five hours at the
issue's 10,000 posts an hour)

Stores ``posts`` analysed posts spread over the last 7 days in a fresh SQLite file (three
keywords each from a banking vocabulary of twenty, 30 % negative, influence 0–60, a tenth with
a conversation, an agent reply and a close), then times, median of three: the load
(kefu.social.reports.load_facts, one SQL read), each template's computation, and a custom
report by platform × day with every measure. Prints milliseconds, with the load average: the
machine is shared.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import kefu.db.models  # noqa: F401 - every table
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade
from kefu.social import reports
from kefu.social.models import SocialPost

VOCABULARY = ["信用卡", "账单", "还款", "手机银行", "理财", "网点", "积分", "额度", "年费", "分期",
              "转账", "挂失", "密码", "利率", "存款", "贷款", "客服", "排队", "短信", "验证码"]  # fmt: skip
EMOTIONS = ["anger", "anxiety", "disappointment", "praise", "neutral"]


async def seed(sessionmaker: Any, count: int) -> None:
    rng = random.Random(1)
    start = utcnow() - timedelta(days=7)
    async with sessionmaker() as db:
        for n in range(count):
            at = start + timedelta(seconds=7 * 86400 * n / count)
            keywords = rng.sample(VOCABULARY, 3)
            post = SocialPost(
                platform=rng.choice(["weibo", "weibo", "douyin", "xhs"]), account="bank",
                external_id=str(n), kind="mention", author_uid=f"u{n % 5000}",
                author_name="网友", text="".join(keywords), posted_at=at, received_at=at,
                sentiment_label="negative" if rng.random() < 0.3 else "neutral",
                emotion=rng.choice(EMOTIONS), keywords=keywords, topic=keywords[0],
                influence=rng.uniform(0, 60), state="queued",
            )  # fmt: skip
            if n % 10 == 0:
                conversation = Conversation(channel="weibo", status="closed",
                                            closed_at=at + timedelta(minutes=rng.uniform(5, 300)))  # fmt: skip
                conversation.messages = [Message(
                    channel="weibo", direction="out", sender_type="agent", body="您好",
                    created_at=at + timedelta(minutes=rng.uniform(1, 60)),
                )]  # fmt: skip
                db.add(conversation)
                await db.flush()
                post.conversation_id = conversation.id
            db.add(post)
        await db.commit()


def median_ms(work: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return sorted(times)[1] * 1000


async def measure(url: str, count: int) -> None:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    await seed(sessionmaker, count)
    filters = reports.Filters.last_days(8)
    loads = []
    async with sessionmaker() as db:
        for _ in range(3):
            began = time.perf_counter()
            facts = await reports.load_facts(db, filters)
            loads.append(time.perf_counter() - began)
    print(f"load {len(facts)} posts: median {sorted(loads)[1] * 1000:.0f} ms")
    spec = reports.Spec.parse(["platform", "day"], list(reports.MEASURES))
    steps: dict[str, Callable[[], Any]] = {
        "volume": lambda: reports.volume(facts, filters.days),
        "sentiment": lambda: reports.sentiment_trend(facts, filters.days),
        "topics+keywords": lambda: (reports.top_topics(facts), reports.top_keywords(facts)),
        "timing": lambda: reports.response_times(facts),
        "influence": lambda: reports.influence_report(facts),
        "emotion": lambda: reports.emotion_mix(facts),
        "custom platform×day, 5 measures": lambda: reports.custom_report(spec, facts),
    }
    for name, work in steps.items():
        print(f"{name}: median {median_ms(work):.0f} ms")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    await engine.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'reports.db'}"
        upgrade(url)
        asyncio.run(measure(url, count))


if __name__ == "__main__":
    main()
