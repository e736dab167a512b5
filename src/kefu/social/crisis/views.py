"""The crisis desk ``/social/crisis``: open alerts on top (acknowledge, escalate), the topic
board with trend sparklines, live through server-sent events like the supervisor's queue
page; a topic's posts (escaped, masked) with the playbook's scripts for a batch reply and
escalation records (升级上报). Supervisors and analysts use the desk (CRISIS_DESK);
supervisors also approve public statements, close alerts and record outcomes
(CRISIS_MANAGE)."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort
from kefu.db.base import utcnow
from kefu.privacy import mask_name, mask_text
from kefu.social.crisis import playbooks, service
from kefu.social.crisis.models import (
    ESCALATION_TEAMS,
    CrisisAlert,
    CrisisEscalation,
    CrisisNotice,
    CrisisStatement,
)
from kefu.social.crisis.notify import Notifier
from kefu.social.crisis.settings import CrisisSettings
from kefu.social.models import SocialPost
from kefu.social.topics import TopicPost, TopicSummary, topic_board
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, get_bank, require
from kefu.web.i18n import N_
from kefu.web.live import marker_events

router = APIRouter()
DESK = "/social/crisis"
BOARD_BUCKETS = 12
BOARD_POSTS = 20_000  # the board reads at most this many recent posts
BOARD_TTL = 30.0  # seconds a computed board is shown before it is computed again
STATE_LABELS = {"open": N_("Not acknowledged"), "acknowledged": N_("Acknowledged"),
                "escalated": N_("Escalated"), "closed": N_("Closed")}  # fmt: skip
TEAM_LABELS = {"pr": N_("Public relations"), "risk": N_("Risk"), "legal": N_("Legal")}
MODE_LABELS = {"comment": N_("Public comment"), "dm": N_("Private message")}
SENTIMENTS = {"negative": N_("Negative"), "neutral": N_("Neutral"), "positive": N_("Positive")}
EMOTIONS = {"anger": N_("Anger"), "anxiety": N_("Anxiety"), "disappointment": N_("Disappointment"),
            "praise": N_("Praise"), "neutral": N_("Neutral")}  # fmt: skip
NOTICE_LABELS = {"sms": N_("SMS"), "wechat": N_("WeChat"), "queued": N_("queued"),
                 "pending": N_("sending"), "sent": N_("sent"), "failed": N_("failed"),
                 "skipped": N_("not sent")}  # fmt: skip
STATEMENT_LABELS = {"pending": N_("Waiting for approval"), "approved": N_("Approved"),
                    "rejected": N_("Rejected"), "sent": N_("Sent")}  # fmt: skip


def _settings(request: Request) -> CrisisSettings:
    return request.app.state.settings.crisis


def _notifier(request: Request) -> Notifier:
    worker = getattr(request.app.state, "crisis", None)
    return worker.notifier if worker is not None else Notifier(_settings(request))


def _templates():  # type: ignore[no-untyped-def]
    from kefu.workspace.formatting import desk_templates

    return desk_templates()


def _error(exc: service.CrisisError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def sparkline(trend: tuple[int, ...], width: int = 120, height: int = 24) -> str:
    """The points of an SVG polyline for a trend (oldest first), scaled to the box."""
    if not trend:
        return ""
    top = max(max(trend), 1)
    step = width / max(len(trend) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (value / top) * (height - 4):.1f}"
        for i, value in enumerate(trend)
    )


async def board(db: AsyncSession, *, now: datetime, hours: int) -> list[TopicSummary]:
    """kefu.social.topics' board over the last ``hours`` of posts (spam left out)."""
    since = now - timedelta(hours=hours)
    rows = (
        await db.execute(
            select(SocialPost.id, SocialPost.posted_at, SocialPost.keywords, SocialPost.topic,
                   SocialPost.sentiment_label, SocialPost.influence)
            .where(SocialPost.received_at >= since, SocialPost.spam.is_(False))
            .order_by(SocialPost.id.desc())
            .limit(BOARD_POSTS)
        )
    ).all()  # fmt: skip
    posts = [
        TopicPost(id=r.id, at=r.posted_at, terms=tuple([*(r.keywords or []), r.topic]),
                  negative=r.sentiment_label == "negative", reach=max(1.0, r.influence or 0.0))
        for r in rows
    ]  # fmt: skip
    bucket = timedelta(hours=hours) / BOARD_BUCKETS
    return topic_board(posts, now=now, buckets=BOARD_BUCKETS, bucket=bucket)


async def cached_board(request: Request, db: AsyncSession) -> list[TopicSummary]:
    """The board, computed at most every BOARD_TTL seconds per process (over two hours of
    posts at 10,000 an hour it takes about two seconds of CPU), and again as soon as an alert
    appeared or changed: that is when the board matters."""
    hours = _settings(request).board_hours
    alerts = await db.scalar(select(func.max(CrisisAlert.updated_at)))
    cached = getattr(request.app.state, "crisis_board", None)
    clock = time.monotonic()
    if cached is not None and cached[:2] == (hours, alerts) and clock - cached[2] < BOARD_TTL:
        return cached[3]
    topics = await board(db, now=utcnow(), hours=hours)
    request.app.state.crisis_board = (hours, alerts, clock, topics)
    return topics


async def _notices(db: AsyncSession, alert_ids: list[int]) -> dict[int, list[CrisisNotice]]:
    """Who each alert was sent to, on which channel, and what became of it."""
    found: dict[int, list[CrisisNotice]] = {}
    if alert_ids:
        rows = await db.scalars(
            select(CrisisNotice)
            .where(CrisisNotice.alert_id.in_(alert_ids))
            .order_by(CrisisNotice.id)
        )
        for notice in rows:
            found.setdefault(notice.alert_id, []).append(notice)
    return found


async def _desk_context(request: Request, db: AsyncSession, principal: Principal) -> dict[str, Any]:
    topics = await cached_board(request, db)
    alerts = await service.active_alerts(db)
    return {
        "principal": principal, "csrf": csrf_token(request), "alerts": alerts,
        "notices": await _notices(db, [a.id for a in alerts]), "notice_labels": NOTICE_LABELS,
        "topics": [(t, sparkline(t.trend)) for t in topics], "statements": await service.statements(db, limit=20),
        "escalations": await service.escalations(db, limit=20), "state_labels": STATE_LABELS,
        "team_labels": TEAM_LABELS, "mode_labels": MODE_LABELS, "statement_labels": STATEMENT_LABELS,
        "playbooks": playbooks.load_all(), "manage": principal.can(Permission.CRISIS_MANAGE),
        "board_hours": _settings(request).board_hours, "alert_label": service.alert_label,
    }  # fmt: skip


@router.get(DESK, include_in_schema=False)
async def desk_page(
    request: Request,
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    context = await _desk_context(request, db, principal)
    return _templates().TemplateResponse(request, "crisis/desk.html", context)


@router.get(DESK + "/fragment", include_in_schema=False)
async def desk_fragment(
    request: Request,
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    context = await _desk_context(request, db, principal)
    return _templates().TemplateResponse(request, "crisis/_live.html", context)


@router.get(DESK + "/badge", include_in_schema=False)
async def badge(
    request: Request,
    _: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The navigation's count of alerts nobody has acknowledged (polled by htmx)."""
    count = await service.unacknowledged(db)
    return _templates().TemplateResponse(request, "crisis/_badge.html", {"count": count})


async def _marker(request: Request) -> list[Any]:
    async with request.app.state.sessionmaker() as db:
        alerts = await db.scalar(select(func.max(CrisisAlert.updated_at)))
        statements = (
            await db.execute(
                select(func.max(CrisisStatement.id), func.count(CrisisStatement.sent_at),
                       func.count(CrisisStatement.reviewed_at))
            )
        ).one()  # fmt: skip
        reports = (
            await db.execute(
                select(func.max(CrisisEscalation.id), func.count(CrisisEscalation.outcome_at))
            )
        ).one()
    return [alerts.isoformat() if alerts else None, *statements, *reports]


@router.get(DESK + "/events", include_in_schema=False)
async def events_stream(
    request: Request,
    max_seconds: Annotated[float, Query(ge=0.5, le=3600)] = 300,
    _: Principal = Depends(require(Permission.CRISIS_DESK)),
) -> StreamingResponse:
    """Server-sent events as /workspace/events does: 'changed' when an alert, a statement
    or an escalation record moved; the page then re-fetches its fragment (htmx). New posts
    alone do not: they arrive several a second at peak, and the page redraws the board every
    BOARD_TTL seconds by itself."""

    return marker_events(request, _marker, poll_seconds=2.0, max_seconds=max_seconds)


def _back(to: str = DESK) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


@router.post(DESK + "/alerts/{alert_id}/acknowledge", include_in_schema=False)
async def acknowledge_alert(
    request: Request,
    alert_id: int,
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        await service.acknowledge(db, alert_id, actor=principal.name, now=utcnow())
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    return _back()


@router.post(DESK + "/alerts/{alert_id}/escalate", include_in_schema=False)
async def escalate_alert(
    request: Request,
    alert_id: int,
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    notifier = _notifier(request)
    try:
        alert = await service.escalate(db, alert_id, actor=principal.name, now=utcnow())
        if alert is not None:
            await notifier.queue(db, alert, 1)
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    await notifier.deliver(request.app.state.sessionmaker)
    return _back()


@router.post(DESK + "/alerts/{alert_id}/close", include_in_schema=False)
async def close_alert(
    request: Request,
    alert_id: int,
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        await service.close(db, alert_id, actor=principal.name, now=utcnow())
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    return _back()


def _post_view(post: SocialPost, principal: Principal) -> dict[str, Any]:
    """A post as the desk shows it: its text masked for everyone (card, ID and phone numbers
    however typed); the author's name in full only for those who answer customers."""
    handles = principal.can(Permission.CONVERSATIONS_HANDLE)
    return {
        "id": post.id, "platform": post.platform, "kind": post.kind,
        "author": post.author_name if handles else mask_name(post.author_name),
        "followers": post.author_followers, "text": mask_text(post.text),
        "sentiment": SENTIMENTS.get(post.sentiment_label, post.sentiment_label),
        "emotion": EMOTIONS.get(post.emotion, post.emotion), "influence": post.influence,
        "posted_at": post.posted_at, "conversation_id": post.conversation_id if handles else None,
        "engaged": post.conversation_id is not None,
    }  # fmt: skip


@router.get(DESK + "/topic", include_in_schema=False)
async def topic_page(
    request: Request,
    label: Annotated[str, Query(min_length=1, max_length=64)],
    alert: Annotated[int | None, Query()] = None,
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    now = utcnow()
    since = service.board_since(now, _settings(request).board_hours)
    posts = await service.topic_posts(db, label, since=since, limit=500)
    book = playbooks.for_terms(service.label_terms(label) or [label])
    return _templates().TemplateResponse(request, "crisis/topic.html", {
        "principal": principal, "csrf": csrf_token(request), "label": label, "alert_id": alert,
        "posts": [_post_view(p, principal) for p in posts],
        "conversations": len({p.conversation_id for p in posts if p.conversation_id}),
        "playbook": book, "request_key": secrets.token_urlsafe(18), "teams": ESCALATION_TEAMS,
        "team_labels": TEAM_LABELS, "mode_labels": MODE_LABELS,
        "handles": principal.kind == "user",
    })  # fmt: skip


@router.post(DESK + "/statements", include_in_schema=False)
async def create_statement(
    request: Request,
    label: Annotated[str, Form(max_length=64)],
    mode: Annotated[str, Form(max_length=16)],
    body: Annotated[str, Form(max_length=4000)],
    request_key: Annotated[str, Form(max_length=64)],
    alert_id: Annotated[int | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    """A batch reply to every post of the topic: sent at once unless it is a public statement
    whose playbook wants a second person's approval (then it waits on the desk)."""
    check_csrf(request, csrf)
    if principal.kind != "user":
        raise HTTPException(403, "a batch reply is sent by a member of staff, not an API key")
    maker = service.Maker(principal.id, principal.name, principal.display_name,
                          principal.can(Permission.CRISIS_MANAGE))  # fmt: skip
    now = utcnow()
    try:
        statement = await service.propose(
            db, term=label, mode=mode, body=body, request_key=request_key, maker=maker,
            alert_id=alert_id if alert_id and await db.get(CrisisAlert, alert_id) else None,
            now=now,
        )  # fmt: skip
        if statement.state == "approved":
            since = service.board_since(now, _settings(request).board_hours)
            await service.send(db, statement.id, bank=bank, since=since, now=now)
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    return _back()


@router.post(DESK + "/statements/{statement_id}/review", include_in_schema=False)
async def review_statement(
    request: Request,
    statement_id: int,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_MANAGE)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    """Approve (and so send) or reject a pending public statement; never one's own."""
    check_csrf(request, csrf)
    now = utcnow()
    try:
        statement = await service.review(db, statement_id, actor=principal.name,
                                         approve=decision == "approve", note=note, now=now)  # fmt: skip
        if statement.state == "approved":
            since = service.board_since(now, _settings(request).board_hours)
            await service.send(db, statement.id, bank=bank, since=since, now=now)
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    return _back()


@router.post(DESK + "/escalations", include_in_schema=False)
async def create_escalation(
    request: Request,
    label: Annotated[str, Form(max_length=64)],
    team: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=4000)],
    alert_id: Annotated[int | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """升级上报: hands the topic to PR, risk or legal with a note."""
    check_csrf(request, csrf)
    try:
        await service.report(db, term=label, team=team, note=note, actor=principal.name,
                             alert_id=alert_id, now=utcnow())  # fmt: skip
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    return _back()


@router.post(DESK + "/escalations/{escalation_id}/outcome", include_in_schema=False)
async def escalation_outcome(
    request: Request,
    escalation_id: int,
    outcome: Annotated[str, Form(max_length=4000)],
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CRISIS_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        await service.record_outcome(db, escalation_id, outcome=outcome, actor=principal.name,
                                     now=utcnow())  # fmt: skip
    except service.CrisisError as exc:
        raise _error(exc) from None
    await db.commit()
    return _back()


@router.get(DESK + "/playbooks", include_in_schema=False)
async def playbooks_page(
    request: Request,
    principal: Principal = Depends(require(Permission.CRISIS_MANAGE)),
) -> Response:
    return _templates().TemplateResponse(request, "crisis/playbooks.html", {
        "principal": principal, "csrf": csrf_token(request), "playbooks": playbooks.load_all(),
        "team_labels": TEAM_LABELS,
    })  # fmt: skip


class AlertOut(BaseModel):
    id: int
    term: str
    playbook: str
    state: str
    started_at: datetime
    raised_at: datetime
    volume: int
    negativity: float
    reach: float
    level: int
    notice_level: int
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    escalated_at: datetime | None
    post_ids: list[int]


@router.get("/api/v1/crisis/alerts", tags=["social"],
            summary="Burst alerts of the crisis desk, those not closed by default")  # fmt: skip
async def alerts_api(
    include_closed: Annotated[bool, Query()] = False,
    _: Principal = Depends(require(Permission.CRISIS_DESK)),
    db: AsyncSession = DB_SESSION,
) -> list[AlertOut]:
    statement = select(CrisisAlert).order_by(CrisisAlert.id.desc()).limit(500)
    if not include_closed:
        statement = statement.where(CrisisAlert.state != "closed")
    return [
        AlertOut(
            id=a.id,
            term=mask_text(a.term),
            playbook=a.playbook,
            state=a.state,
            started_at=a.started_at,
            raised_at=a.raised_at,
            volume=a.volume,
            negativity=a.negativity,
            reach=a.reach,
            level=a.level,
            notice_level=a.notice_level,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
            escalated_at=a.escalated_at,
            post_ids=a.post_ids,
        )  # fmt: skip
        for a in await db.scalars(statement)
    ]
