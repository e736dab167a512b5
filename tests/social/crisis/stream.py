"""A replayed stream for the crisis tests: background posts on everyday banking terms, and a
planted negative burst of one term at a known minute. Posts are stored as the intake would
store them (analysis fields set), without running the analysis: these tests are about the
worker, the desk and their rules, not the classifier."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation
from kefu.social.models import SocialPost

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BACKGROUND = ["信用卡", "账单", "还款", "手机银行", "理财", "网点", "积分", "额度"]
BURST_TERM = "盗刷"
BURST_START = 40  # minutes after T0
BURST_MINUTES = 10


@dataclass(frozen=True)
class Planned:
    minute: float
    keywords: tuple[str, ...]
    topic: str
    negative: bool
    influence: float
    text: str


def plan(minutes: int = 60, seed: int = 3) -> list[Planned]:
    """About four background posts a minute (a quarter negative) and, from BURST_START for
    BURST_MINUTES, twelve negative posts a minute about 信用卡盗刷."""
    rng = random.Random(seed)
    posts: list[Planned] = []
    for minute in range(minutes):
        for _ in range(4):
            term = rng.choice(BACKGROUND)
            negative = rng.random() < 0.25
            posts.append(Planned(minute + rng.random(), (term,), term, negative,
                                 rng.uniform(1, 30), f"{term}的问题{rng.randint(1, 999)}"))  # fmt: skip
        if BURST_START <= minute < BURST_START + BURST_MINUTES:
            for _ in range(12):
                posts.append(Planned(minute + rng.random(), ("信用卡", BURST_TERM), "信用卡盗刷",
                                     True, rng.uniform(5, 60),
                                     f"我的信用卡被盗刷了{rng.randint(100, 9999)}元，银行不管"))  # fmt: skip
    posts.sort(key=lambda p: p.minute)
    return posts


def post_row(p: Planned, n: int, **extra: object) -> SocialPost:
    at = T0 + timedelta(minutes=p.minute)
    values: dict[str, object] = dict(
        platform="weibo", account="bank", external_id=f"p{n}", kind="mention",
        author_uid=f"u{n % 97}", author_name=f"用户{n % 97}", author_followers=n % 500,
        text=p.text, posted_at=at, received_at=at, sentiment=-0.8 if p.negative else 0.2,
        sentiment_label="negative" if p.negative else "neutral",
        emotion="anger" if p.negative else "neutral", keywords=list(p.keywords), topic=p.topic,
        influence=p.influence, state="queued",
    )  # fmt: skip
    values.update(extra)
    return SocialPost(**values)


async def store(db: AsyncSession, posts: list[Planned], start: int = 0) -> None:
    for n, p in enumerate(posts, start):
        db.add(post_row(p, n))
    await db.commit()


async def staff(db: AsyncSession, username: str = "sup1", role: str = "supervisor") -> Agent:
    agent = Agent(username=username, display_name=username.upper(), role=role, password_hash="x")
    db.add(agent)
    await db.flush()
    return agent


async def conversation(db: AsyncSession, contact: str) -> Conversation:
    row = Conversation(channel="weibo", contact=contact, status="open", subject="盗刷")
    db.add(row)
    await db.flush()
    return row
