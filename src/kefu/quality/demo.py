"""Demo quality data: the latest closed conversations inspected and a share of them answered
with a CSAT score, so the quality pages and the agents' KPIs are not empty in ``kefu demo``
(the quality worker inspects the rest in the background)."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.quality import service
from kefu.quality.inspection import inspect, load_rules
from kefu.quality.models import CsatResponse, CsatSurvey, QaScore
from kefu.vocabulary import ConversationStatus

SCORES = (5, 5, 5, 4, 4, 4, 3, 2, 1)  # a contact centre's usual skew


async def ensure_quality_demo(database_url: str, *, conversations: int = 120) -> str:
    engine = make_engine(database_url)
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            if await db.scalar(select(func.count()).select_from(QaScore)):
                return "quality demo: already seeded"
            rows = (
                await db.execute(
                    select(Conversation.id, Conversation.assigned_agent_id, Conversation.channel,
                           Conversation.contact, Conversation.closed_at)
                    .where(Conversation.status == ConversationStatus.CLOSED.value,
                           Conversation.assigned_agent_id.is_not(None))
                    .order_by(Conversation.closed_at.desc())
                    .limit(conversations)
                )
            ).all()  # fmt: skip
            rng = random.Random(20261206)
            answered = 0
            for cid, agent, channel, contact, closed in rows:
                asked = closed or utcnow()
                db.add(CsatSurvey(conversation_id=cid, agent_id=agent, channel=channel,
                                  contact=contact or "", asked_at=asked,
                                  expires_at=asked + timedelta(hours=24),
                                  state="answered" if rng.random() < 0.45 else "open"))  # fmt: skip
            await db.flush()
            for survey in (await db.scalars(select(CsatSurvey).where(
                    CsatSurvey.state == "answered"))).all():  # fmt: skip
                db.add(CsatResponse(conversation_id=survey.conversation_id,
                                    agent_id=survey.agent_id, channel=survey.channel,
                                    score=rng.choice(SCORES),
                                    answered_at=survey.asked_at + timedelta(minutes=3)))  # fmt: skip
                answered += 1
            # The oldest-first worker would start a month back: score these recent ones now.
            ids = [r[0] for r in rows]
            inspected = 0
            rules = load_rules()
            for cid, agent, *_ in rows:
                messages = await service.transcript(db, cid)
                result = inspect(messages, rules)
                db.add(QaScore(conversation_id=cid, agent_id=agent, auto_score=result.score,
                               score=result.score, findings=[f.to_dict() for f in result.findings],
                               rules_version=result.version, scored_at=utcnow(),
                               sampled=service.sampled(cid, 0.2)))  # fmt: skip
                inspected += 1
            return (f"quality demo: {len(ids)} surveys, {answered} CSAT answers, "
                    f"{inspected} conversations inspected")  # fmt: skip
    finally:
        await engine.dispose()
