"""Session replay over HTTP: the recorder's uploads (public, ``POST /collect/{site}/replay``),
the list of recorded sessions (also the sessions behind a funnel's drop-off or a failing
page), the player page and the events it plays (permission ``analytics.replay``; every
viewing is written to the audit log: a replay shows a customer's own screen)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import enrich, replay
from kefu.analytics.analyses import Period, sessions
from kefu.analytics.service import analytics_of
from kefu.audit.service import record as audit
from kefu.auth.permissions import Permission
from kefu.web.deps import DB_SESSION, Principal, csrf_token, require

router = APIRouter()
SessionId = Annotated[str, Query(max_length=64)]
PagePath = Annotated[str, Query(max_length=500)]
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_REFUSALS = {
    400: "The body is not JSON.",
    404: "No such site, or replay is off for it.",
    409: "This chunk number of the session was sent before.",
    413: "The chunk, or the session's replay, is over its size limit.",
    422: "The chunk's shape is wrong, or its times are off.",
}


@router.post(
    "/collect/{site}/replay",
    tags=["analytics"],
    summary="A chunk of a session's replay (rrweb events) from the recorder",
    status_code=202,
    responses={code: {"description": why, "content": _PROBLEM} for code, why in _REFUSALS.items()},
)
async def collect_replay(site: str, request: Request, db: AsyncSession = DB_SESSION) -> Response:
    """``{"v": 1, "sent_at": ms, "visitor": id, "session": id, "seq": n, "events": [rrweb
    events]}`` as JSON or text/plain (sendBeacon). Stored compressed, apart from events."""
    body = await request.body()
    settings = request.app.state.settings.analytics
    if enrich.parse_agent(request.headers.get("user-agent", "")).bot:
        replay.refused["bot"] += 1
        return JSONResponse({"stored": 0}, status_code=202)  # bots learn nothing
    outcome = await replay.store(db, settings, site, body, time.time())
    if outcome.status < 400:
        return JSONResponse({"stored": outcome.stored_bytes}, status_code=outcome.status)
    problem = {"type": "about:blank", "title": HTTPStatus(outcome.status).phrase,
               "status": outcome.status, "detail": outcome.detail}  # fmt: skip
    return JSONResponse(problem, status_code=outcome.status, media_type="application/problem+json")


def _site(request: Request, site: str | None) -> str:
    sites = request.app.state.settings.analytics.sites
    keys = [s.key for s in sites]
    return site if site in keys else (keys[0] if keys else "")


@router.get("/analytics/replays", include_in_schema=False)
async def replay_list(
    request: Request,
    reached: PagePath = "", missed: PagePath = "", failed: PagePath = "",
    browser: Annotated[str, Query(max_length=60)] = "",
    site: Annotated[str | None, Query(max_length=64)] = None,
    days: Annotated[int, Query(ge=1, le=400)] = 30,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPLAY_VIEW)),
) -> Response:  # fmt: skip
    """Recorded sessions, newest first; with ``reached``/``missed`` (a funnel step's
    drop-off) or ``failed`` (+ ``browser``: a failing page) only the sessions behind it."""
    from kefu.web.templating import templates

    chosen = _site(request, site)
    only: list[str] | None = None
    if reached or missed or failed:
        store = analytics_of(request.app).store
        period = Period.last(chosen, days, datetime.now(UTC).date())
        only = await run_in_threadpool(
            sessions.matching, store, period, reached=reached, missed=missed, failed=failed,
            browser=browser,
        )  # fmt: skip
    rows = await replay.sessions(db, chosen, only)
    return templates.TemplateResponse(request, "analytics/replays.html", {
        "principal": principal, "csrf": csrf_token(request), "page": "replays", "rows": rows,
        "site": chosen, "reached": reached, "missed": missed, "failed": failed,
        "browser": browser, "days": days, "matched": None if only is None else len(only),
    })  # fmt: skip


async def _audited_events(
    request: Request, db: AsyncSession, principal: Principal, site: str, session_id: str
) -> list[dict[str, Any]]:
    events = await replay.events_of(db, site, session_id)
    if not events:
        raise HTTPException(404, "no replay of this session")
    await audit(db, actor=principal.name, action="analytics.replay.view",
                target=f"{site}/{session_id}", details={"events": len(events)},
                ip=request.client.host if request.client else None)  # fmt: skip
    await db.commit()
    return events


@router.get(
    "/api/v1/analytics/replays/{site}/{session_id}",
    tags=["analytics"],
    summary="A session's replay: its rrweb events in order (inputs masked)",
)
async def replay_events(
    site: str, session_id: str, request: Request, db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPLAY_VIEW)),
) -> list[dict[str, Any]]:  # fmt: skip
    return await _audited_events(request, db, principal, site, session_id)


@router.get("/analytics/replays/{site}/{session_id}", include_in_schema=False)
async def replay_player(
    site: str, session_id: str, request: Request, db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPLAY_VIEW)),
) -> Response:  # fmt: skip
    from kefu.web.templating import templates

    found = await replay.sessions(db, site, [session_id], limit=1)
    if not found:
        raise HTTPException(404, "no replay of this session")
    return templates.TemplateResponse(request, "analytics/replay.html", {
        "principal": principal, "csrf": csrf_token(request), "page": "replays",
        "s": found[0]})  # fmt: skip
