"""Gap collection (信息收集): what customers asked that the knowledge base could not answer.

Open gaps are grouped into topics with :func:`kefu.language.topics.cluster_topics` (TF-IDF
over our segmentation, k-means), so editors see "信用卡 / 年费 — 14 questions" rather than a
raw list, and write the next FAQ from real demand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.db.base import utcnow
from kefu.knowledge.models import KnowledgeGap
from kefu.language.topics import cluster_topics

MAX_GAPS = 2000  # newest open gaps clustered per view; enough to see demand, bounded in time


@dataclass(frozen=True)
class GapTopic:
    label: str
    count: int
    kinds: dict[str, int]  # "unanswered" / "unhelpful" → count
    examples: tuple[str, ...]  # most central first
    gap_ids: tuple[int, ...]


async def open_gaps(session: AsyncSession, *, limit: int = MAX_GAPS) -> list[KnowledgeGap]:
    rows = await session.scalars(
        select(KnowledgeGap).where(KnowledgeGap.resolved_at.is_(None))
        .order_by(KnowledgeGap.id.desc()).limit(limit)
    )  # fmt: skip
    return list(rows)


async def gap_topics(session: AsyncSession, *, limit: int = MAX_GAPS) -> list[GapTopic]:
    gaps = await open_gaps(session, limit=limit)
    if not gaps:
        return []
    topics = cluster_topics([g.question for g in gaps])
    grouped: set[int] = set()
    out = []
    for topic in topics:
        members = [gaps[i] for i in topic.members]
        grouped.update(topic.members)
        out.append(_topic(topic.label, members))
    rest = [g for i, g in enumerate(gaps) if i not in grouped]
    if rest:  # questions without content words (e.g. "？？") still count
        out.append(_topic("", rest))
    return sorted(out, key=lambda t: (-t.count, t.label))


def _topic(label: str, members: Sequence[KnowledgeGap]) -> GapTopic:
    examples = tuple(dict.fromkeys(g.question for g in members))[:5]
    return GapTopic(label, len(members), dict(Counter(g.kind for g in members)), examples,
                    tuple(g.id for g in members))  # fmt: skip


async def resolve_gaps(
    session: AsyncSession, *, gap_ids: Sequence[int], actor: str, ip: str | None = None
) -> int:
    if not gap_ids:
        return 0
    result = await session.execute(
        update(KnowledgeGap)
        .where(KnowledgeGap.id.in_(list(gap_ids)), KnowledgeGap.resolved_at.is_(None))
        .values(resolved_at=utcnow())
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    await record(session, actor=actor, action="knowledge.resolve_gaps", target="kb_gaps",
                 details={"count": count}, ip=ip)  # fmt: skip
    return count
