"""CSAT and QA per agent over a period: what kefu.reports' agent KPIs read (docs/quality.md
gives the formulas). One grouped query each, on indexed time columns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.quality.models import CsatResponse, CsatSurvey, QaScore


async def csat_by_agent(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[int, tuple[float, int]]:
    """Agent id → (mean score 1–5, number of answers) for answers in [start, end)."""
    rows = await session.execute(
        select(CsatResponse.agent_id, func.avg(CsatResponse.score), func.count())
        .where(CsatResponse.answered_at >= start, CsatResponse.answered_at < end,
               CsatResponse.agent_id.is_not(None))
        .group_by(CsatResponse.agent_id)
    )  # fmt: skip
    return {agent: (round(float(mean), 2), int(n)) for agent, mean, n in rows.all()}


async def qa_by_agent(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[int, tuple[float, int]]:
    """Agent id → (mean QA score 0–100, conversations scored) for scores in [start, end)
    (the reviewed score where a reviewer scored it, else the rules')."""
    rows = await session.execute(
        select(QaScore.agent_id, func.avg(QaScore.score), func.count())
        .where(QaScore.scored_at >= start, QaScore.scored_at < end, QaScore.agent_id.is_not(None))
        .group_by(QaScore.agent_id)
    )
    return {agent: (round(float(mean), 1), int(n)) for agent, mean, n in rows.all()}


async def csat_response_rate(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[int, int]:
    """(text surveys asked in [start, end), of them answered). Web chat's star ratings are
    asked by the widget, not by a survey row, and count in ``csat_by_agent`` only."""
    asked = await session.scalar(
        select(func.count())
        .select_from(CsatSurvey)
        .where(CsatSurvey.asked_at >= start, CsatSurvey.asked_at < end)
    )
    answered = await session.scalar(
        select(func.count())
        .select_from(CsatSurvey)
        .join(CsatResponse, CsatResponse.conversation_id == CsatSurvey.conversation_id)
        .where(CsatSurvey.asked_at >= start, CsatSurvey.asked_at < end)
    )
    return int(asked or 0), int(answered or 0)
