"""Quality pages (质检): the inspected conversations with their findings and the CSAT figures
(``QUALITY_REVIEW``: supervisors), a sampled conversation's review form and appeal decisions,
and an agent's own scores with the appeal form (``QUALITY_APPEAL``: only their own).

Transcripts are customers' text: masked (card, ID, phone numbers) and escaped by the
templates like everywhere else."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.auth.permissions import Permission
from kefu.db.base import utcnow
from kefu.privacy import mask_text
from kefu.quality import kpis, service
from kefu.quality.models import QaAppeal, QaScore
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter()
reviewers = require(Permission.QUALITY_REVIEW)
appellants = require(Permission.QUALITY_APPEAL)
ScoreId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE = 50


def _pages() -> Any:
    from kefu.web.templating import templates  # the templates import the settings

    return templates


async def _agents(db: AsyncSession) -> dict[int, str]:
    return dict((await db.execute(select(Agent.id, Agent.display_name))).all())


@router.get("/quality", include_in_schema=False)
async def overview(
    request: Request,
    agent: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    sampled: Annotated[bool, Query()] = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    principal: Principal = Depends(reviewers),
    db: AsyncSession = DB_SESSION,
) -> Response:
    query = select(QaScore)
    if agent:
        query = query.where(QaScore.agent_id == agent)
    if sampled:
        query = query.where(QaScore.sampled.is_(True))
    rows = (
        await db.scalars(
            query.order_by(QaScore.scored_at.desc(), QaScore.id.desc())
            .offset((page - 1) * PAGE).limit(PAGE + 1)
        )
    ).all()  # fmt: skip
    now = utcnow()
    start = now - timedelta(days=30)
    appeals = (
        await db.execute(
            select(QaAppeal, QaScore.conversation_id)
            .join(QaScore, QaScore.id == QaAppeal.qa_score_id)
            .where(QaAppeal.state == "open")
            .order_by(QaAppeal.created_at)
        )
    ).all()
    asked, answered = await kpis.csat_response_rate(db, start, now)
    return _pages().TemplateResponse(
        request,
        "quality/overview.html",
        {"principal": principal, "rows": rows[:PAGE], "more": len(rows) > PAGE, "page": page,
         "agents": await _agents(db), "agent": agent, "sampled": sampled, "appeals": appeals,
         "csat": await kpis.csat_by_agent(db, start, now + timedelta(seconds=1)),
         "qa": await kpis.qa_by_agent(db, start, now + timedelta(seconds=1)),
         "asked": asked, "answered": answered,
         "pending_reviews": await db.scalar(select(func.count()).where(
             QaScore.sampled.is_(True), QaScore.reviewed_at.is_(None)))},
    )  # fmt: skip


async def _detail(
    request: Request, db: AsyncSession, principal: Principal, row: QaScore, *,
    template: str, error: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    messages = await service.transcript(db, row.conversation_id)
    appeals = (
        await db.scalars(
            select(QaAppeal).where(QaAppeal.qa_score_id == row.id).order_by(QaAppeal.id)
        )
    ).all()
    flagged = {f.get("message") for f in row.findings}
    return _pages().TemplateResponse(
        request,
        template,
        {"principal": principal, "row": row, "csrf": csrf_token(request), "error": error,
         "messages": [(n, m.sender, m.at, mask_text(m.text), n in flagged)
                      for n, m in enumerate(messages)],
         "appeals": appeals, "form": service.REVIEW_FORM, "agents": await _agents(db)},
        status_code=status,
    )  # fmt: skip


async def _score(db: AsyncSession, score_id: int) -> QaScore:
    row = await db.get(QaScore, score_id)
    if row is None:
        raise HTTPException(404, "没有这条质检记录")
    return row


@router.get("/quality/scores/{score_id}", include_in_schema=False)
async def score_page(
    request: Request, score_id: ScoreId, principal: Principal = Depends(reviewers),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    row = await _score(db, score_id)
    return await _detail(request, db, principal, row, template="quality/score.html")


@router.post("/quality/scores/{score_id}/review", include_in_schema=False)
async def review(
    request: Request, score_id: ScoreId, csrf: str = Form(""),
    courtesy: str = Form("", max_length=4), accuracy: str = Form("", max_length=4),
    compliance: str = Form("", max_length=4), resolution: str = Form("", max_length=4),
    note: str = Form("", max_length=1000), principal: Principal = Depends(reviewers),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    row = await _score(db, score_id)
    form = {"courtesy": courtesy, "accuracy": accuracy, "compliance": compliance,
            "resolution": resolution}  # fmt: skip
    try:
        await service.review(db, score_id, form, note, actor=principal.name, now=utcnow())
    except service.QualityError as exc:
        await db.rollback()
        await db.refresh(row)  # the rollback expired it; the page reads it
        return await _detail(request, db, principal, row, template="quality/score.html",
                             error=str(exc), status=exc.status)  # fmt: skip
    await db.commit()
    return RedirectResponse(f"/quality/scores/{score_id}", status_code=303)


@router.post("/quality/appeals/{appeal_id}/decide", include_in_schema=False)
async def decide(
    request: Request, appeal_id: ScoreId, csrf: str = Form(""),
    outcome: str = Form("", max_length=16), new_score: str = Form("", max_length=8),
    note: str = Form("", max_length=1000), principal: Principal = Depends(reviewers),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    found = await db.get(QaAppeal, appeal_id)
    if found is None:
        raise HTTPException(404, "没有这条申诉")
    row = await _score(db, found.qa_score_id)
    try:
        if outcome not in ("upheld", "rejected"):
            raise service.QualityError("请选择申诉成立或驳回")
        try:
            score = float(new_score) if new_score.strip() else None
        except ValueError:
            raise service.QualityError("新分数需为 0–100 的数字") from None
        await service.decide(db, appeal_id, upheld=outcome == "upheld", new_score=score,
                             note=note, actor=principal.name, now=utcnow())  # fmt: skip
    except service.QualityError as exc:
        await db.rollback()
        await db.refresh(row)  # the rollback expired it; the page reads it
        return await _detail(request, db, principal, row, template="quality/score.html",
                             error=str(exc), status=exc.status)  # fmt: skip
    await db.commit()
    return RedirectResponse(f"/quality/scores/{row.id}", status_code=303)


@router.get("/quality/mine", include_in_schema=False)
async def mine(
    request: Request, principal: Principal = Depends(appellants),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    rows = (
        await db.scalars(
            select(QaScore).where(QaScore.agent_id == principal.id)
            .order_by(QaScore.scored_at.desc(), QaScore.id.desc()).limit(200)
        )
    ).all()  # fmt: skip
    now = utcnow()
    qa = await kpis.qa_by_agent(db, now - timedelta(days=30), now + timedelta(seconds=1))
    csat = await kpis.csat_by_agent(db, now - timedelta(days=30), now + timedelta(seconds=1))
    return _pages().TemplateResponse(
        request, "quality/mine.html",
        {"principal": principal, "rows": rows, "qa": qa.get(principal.id),
         "csat": csat.get(principal.id)},
    )  # fmt: skip


async def _own(db: AsyncSession, principal: Principal, score_id: int) -> QaScore:
    row = await _score(db, score_id)
    if principal.kind != "user" or row.agent_id != principal.id:
        raise HTTPException(404, "没有这条质检记录")  # another agent's: not even its existence
    return row


@router.get("/quality/mine/{score_id}", include_in_schema=False)
async def mine_score(
    request: Request, score_id: ScoreId, principal: Principal = Depends(appellants),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    row = await _own(db, principal, score_id)
    return await _detail(request, db, principal, row, template="quality/mine_score.html")


@router.post("/quality/mine/{score_id}/appeal", include_in_schema=False)
async def appeal(
    request: Request, score_id: ScoreId, csrf: str = Form(""),
    reason: str = Form("", max_length=2000), principal: Principal = Depends(appellants),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    row = await _own(db, principal, score_id)
    try:
        await service.appeal(db, score_id, reason, agent_id=principal.id, actor=principal.name)
    except service.QualityError as exc:
        await db.rollback()
        await db.refresh(row)  # the rollback expired it; the page reads it
        return await _detail(request, db, principal, row, template="quality/mine_score.html",
                             error=str(exc), status=exc.status)  # fmt: skip
    await db.commit()
    return RedirectResponse(f"/quality/mine/{score_id}", status_code=303)
