"""The demo's listening rules: what a bank's service centre watches on social media first —
its own name, its card and app, and fraud words — so `kefu demo` has listened posts from the
Weibo simulator's traffic (which writes about 某某银行) from the first minute."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db.engine import make_engine, make_sessionmaker
from kefu.social.models import ListeningRule

DEMO_RULES = (
    ("本行品牌", ["某某银行"], ["招聘", "广告"]),
    ("本行信用卡活动", ["信用卡周年庆", "新户领"], []),
    ("盗刷与诈骗", ["盗刷", "被盗", "诈骗"], ["防骗小知识"]),
)


async def ensure_listening_demo(session: AsyncSession) -> None:
    """Adds the demo rules that are missing (by name); never changes a rule someone edited."""
    existing = set((await session.scalars(select(ListeningRule.name))).all())
    for name, include, exclude in DEMO_RULES:
        if name not in existing:
            session.add(ListeningRule(name=name, include_terms=include, exclude_terms=exclude,
                                      platforms=[], active=True, created_by="demo"))  # fmt: skip


async def ensure_social_demo(database_url: str) -> None:
    """`kefu demo` only (the suite's demo fixtures start without listening rules)."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await ensure_listening_demo(session)
            await session.commit()
    finally:
        await engine.dispose()
