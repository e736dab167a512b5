"""Pages of the social store: listening (captured posts: engage or ignore), the listening rules
(keyword subscriptions, audited like other admin edits) and every social post with its
analysis (filters, CSV export).

Post text is customers' text: escaped by the templates and with card, ID and phone numbers
masked (``kefu.privacy.mask_text``) for every role, as the agent desk shows messages — a
public post that carries a card number is still a card number, and no page role needs it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from kefu.audit import service as audit
from kefu.auth.permissions import Permission
from kefu.privacy import mask_text
from kefu.social import listening, service
from kefu.social.models import STATES, ListeningRule, SocialPost
from kefu.web.deps import DB_SESSION, Principal, check_csrf, client_ip, csrf_token, require

router = APIRouter()
listen = require(Permission.SOCIAL_LISTEN)
rules_admin = require(Permission.SOCIAL_RULES)

PAGE = 100
Sentiment = Literal["negative", "neutral", "positive"]
Platform = Annotated[str | None, Query(max_length=32, pattern=r"^[a-z0-9_-]*$")]
State = Literal["queued", "listening", "engaged", "ignored", "spam", "private"]
Kind = Literal["mention", "comment", "dm", "listening"]
PostId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
assert set(STATES) == set(State.__args__)  # type: ignore[attr-defined]


def msgid(text: str) -> str:
    """Marks a label for the gettext catalogues (scripts/update_catalogs.sh extracts
    ``msgid(...)``); translated where it is shown."""
    return text


# Words for the stored codes, as the pages show them.
LABELS = {
    "negative": msgid("negative"), "neutral": msgid("neutral"), "positive": msgid("positive"),
    "anger": msgid("anger"), "anxiety": msgid("anxiety"),
    "disappointment": msgid("disappointment"), "praise": msgid("praise"),
    "queued": msgid("in the service queue"), "listening": msgid("awaiting a decision"),
    "engaged": msgid("engaged"), "ignored": msgid("ignored"), "spam": msgid("spam or advert"),
    "private": msgid("handled as a private message"), "mention": msgid("mention"),
    "comment": msgid("comment"), "dm": msgid("private message"),
}  # fmt: skip
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def _pages() -> Any:
    from kefu.web.templating import templates  # the templates import the settings

    return templates


@dataclass(frozen=True)
class PostView:
    """A post as staff see it: numbers in its text masked."""

    row: SocialPost
    text: str
    rule: str | None
    at: str  # posted, local time


def _view(row: SocialPost, rules: dict[int, str]) -> PostView:
    at = row.posted_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")
    return PostView(row, mask_text(row.text), rules.get(row.captured_by or 0), at)


async def _rule_names(db: AsyncSession) -> dict[int, str]:
    return dict((await db.execute(select(ListeningRule.id, ListeningRule.name))).all())  # type: ignore[arg-type]


def _filtered(
    query: Select[tuple[SocialPost]],
    *,
    platform: str | None,
    sentiment: str | None,
    rule: int | None = None,
    state: str | None = None,
    kind: str | None = None,
    before: int | None = None,
) -> Select[tuple[SocialPost]]:
    if platform:
        query = query.where(SocialPost.platform == platform)
    if sentiment:
        query = query.where(SocialPost.sentiment_label == sentiment)
    if rule is not None:
        query = query.where(SocialPost.captured_by == rule)
    if state:
        query = query.where(SocialPost.state == state)
    if kind:
        query = query.where(SocialPost.kind == kind)
    if before is not None:
        query = query.where(SocialPost.id < before)
    return query.order_by(SocialPost.id.desc())


async def _platforms(db: AsyncSession) -> list[str]:
    return list((await db.scalars(select(SocialPost.platform).distinct())).all())


# -- listening --------------------------------------------------------------------------------
@router.get("/social/listening", include_in_schema=False)
async def listening_page(
    request: Request,
    rule: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    platform: Platform = None,
    sentiment: Sentiment | None = None,
    state: Literal["listening", "engaged", "ignored"] = "listening",
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    principal: Principal = Depends(listen),
    db: AsyncSession = DB_SESSION,
) -> Response:
    query = _filtered(
        select(SocialPost).where(SocialPost.kind == "listening"),
        platform=platform, sentiment=sentiment, rule=rule, state=state, before=before,
    )  # fmt: skip
    rows = (await db.scalars(query.limit(PAGE))).all()
    names = await _rule_names(db)
    return _pages().TemplateResponse(
        request,
        "social/listening.html",
        {"principal": principal, "csrf": csrf_token(request), "labels": LABELS,
         "posts": [_view(r, names) for r in rows], "rules": names,
         "platforms": await _platforms(db),
         "filters": {"rule": rule, "platform": platform or "", "sentiment": sentiment or "",
                     "state": state},
         "more": rows[-1].id if len(rows) == PAGE else None},
    )  # fmt: skip


async def _post_action(
    request: Request, db: AsyncSession, principal: Principal, post_id: int, action: str
) -> Response:
    error = None
    try:
        if action == "engage":
            await service.engage(db, post_id, actor=principal.name)
        elif not await service.ignore(db, post_id, actor=principal.name):
            error = "这条帖子已不在待处理的监测列表中"
    except service.NotEngageable:
        error = "这条帖子不能转入服务队列"
    await audit.record(db, actor=principal.name, action=f"social.{action}",
                       target=f"social_post:{post_id}", details={"refused": error},
                       ip=client_ip(request))  # fmt: skip
    row = await db.get(SocialPost, post_id)
    if row is None:
        raise HTTPException(404, f"no social post {post_id}")
    if request.headers.get("hx-request"):
        await db.refresh(row)
        return _pages().TemplateResponse(
            request,
            "social/_listening_row.html",
            {"principal": principal, "csrf": csrf_token(request), "error": error,
             "labels": LABELS, "p": _view(row, await _rule_names(db))},
        )  # fmt: skip
    # Analysts may engage but do not read conversations: they stay on the listening page.
    readable = principal.can(Permission.CONVERSATIONS_READ)
    if error is None and action == "engage" and row.conversation_id and readable:
        return RedirectResponse(f"/workspace/conversations/{row.conversation_id}", 303)
    return RedirectResponse("/social/listening", 303)


@router.post("/social/listening/{post_id}/engage", include_in_schema=False)
async def engage_post(
    request: Request,
    post_id: PostId,
    csrf: str = Form(""),
    principal: Principal = Depends(listen),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    return await _post_action(request, db, principal, post_id, "engage")


@router.post("/social/listening/{post_id}/ignore", include_in_schema=False)
async def ignore_post(
    request: Request,
    post_id: PostId,
    csrf: str = Form(""),
    principal: Principal = Depends(listen),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    return await _post_action(request, db, principal, post_id, "ignore")


# -- listening rules --------------------------------------------------------------------------
async def _rules_page(
    request: Request,
    db: AsyncSession,
    principal: Principal,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    rows = (await db.scalars(select(ListeningRule).order_by(ListeningRule.id))).all()
    return _pages().TemplateResponse(
        request,
        "social/rules.html",
        {"principal": principal, "csrf": csrf_token(request), "rules": rows, "error": error,
         "form": form or {}, "dropped": dict(listening.DROPPED)},
        status_code=status,
    )  # fmt: skip


@router.get("/social/listening/rules", include_in_schema=False)
async def rules_page(
    request: Request,
    principal: Principal = Depends(rules_admin),
    db: AsyncSession = DB_SESSION,
) -> Response:
    return await _rules_page(request, db, principal)


@dataclass(frozen=True)
class RuleForm:
    name: str
    include: list[str]
    exclude: list[str]
    platforms: list[str]
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "include_terms": self.include,
                "exclude_terms": self.exclude, "platforms": self.platforms,
                "active": self.active}  # fmt: skip


def _rule_form(name: str, include: str, exclude: str, platforms: str, active: str) -> RuleForm:
    return RuleForm(
        name.strip(), listening.parse_terms(include), listening.parse_terms(exclude),
        [p.lower() for p in listening.parse_terms(platforms.replace(" ", ","))], bool(active),
    )  # fmt: skip


@router.post("/social/listening/rules", include_in_schema=False)
async def create_rule(
    request: Request,
    name: str = Form("", max_length=200),
    include_terms: str = Form("", max_length=8000),
    exclude_terms: str = Form("", max_length=8000),
    platforms: str = Form("", max_length=2000),
    active: str = Form(""),
    csrf: str = Form(""),
    principal: Principal = Depends(rules_admin),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    form = _rule_form(name, include_terms, exclude_terms, platforms, active)
    try:
        listening.validate(form.name, form.include, form.exclude, form.platforms)
    except listening.RuleInvalid as exc:
        typed = {"name": name, "include_terms": include_terms,
                 "exclude_terms": exclude_terms, "platforms": platforms}  # fmt: skip
        return await _rules_page(request, db, principal, error=str(exc), form=typed, status=422)
    rule = ListeningRule(
        name=form.name, include_terms=form.include, exclude_terms=form.exclude,
        platforms=form.platforms, active=form.active, created_by=principal.name,
    )  # fmt: skip
    db.add(rule)
    await db.flush()
    await audit.record(db, actor=principal.name, action="social.rule.create",
                       target=f"listening_rule:{rule.id}", details=form.as_dict(),
                       ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/social/listening/rules", 303)


async def _rule(db: AsyncSession, rule_id: int) -> ListeningRule:
    rule = await db.get(ListeningRule, rule_id)
    if rule is None:
        raise HTTPException(404, f"no listening rule {rule_id}")
    return rule


@router.post("/social/listening/rules/{rule_id}", include_in_schema=False)
async def update_rule(
    request: Request,
    rule_id: RuleId,
    name: str = Form("", max_length=200),
    include_terms: str = Form("", max_length=8000),
    exclude_terms: str = Form("", max_length=8000),
    platforms: str = Form("", max_length=2000),
    active: str = Form(""),
    csrf: str = Form(""),
    principal: Principal = Depends(rules_admin),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    rule = await _rule(db, rule_id)
    form = _rule_form(name, include_terms, exclude_terms, platforms, active)
    try:
        listening.validate(form.name, form.include, form.exclude, form.platforms)
    except listening.RuleInvalid as exc:
        return await _rules_page(request, db, principal, error=f"{rule.name}：{exc}", status=422)
    before = {"name": rule.name, "include_terms": rule.include_terms,
              "exclude_terms": rule.exclude_terms, "platforms": rule.platforms,
              "active": rule.active}  # fmt: skip
    rule.name, rule.include_terms, rule.exclude_terms = form.name, form.include, form.exclude
    rule.platforms, rule.active = form.platforms, form.active
    await audit.record(db, actor=principal.name, action="social.rule.update",
                       target=f"listening_rule:{rule.id}",
                       details={"before": before, "after": form.as_dict()},
                       ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/social/listening/rules", 303)


@router.post("/social/listening/rules/{rule_id}/delete", include_in_schema=False)
async def delete_rule(
    request: Request,
    rule_id: RuleId,
    csrf: str = Form(""),
    principal: Principal = Depends(rules_admin),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Captured posts stay (their ``captured_by`` becomes empty): what was heard was heard."""
    check_csrf(request, csrf)
    rule = await _rule(db, rule_id)
    details = {"name": rule.name, "include_terms": rule.include_terms,
               "exclude_terms": rule.exclude_terms}  # fmt: skip
    await db.delete(rule)
    await audit.record(db, actor=principal.name, action="social.rule.delete",
                       target=f"listening_rule:{rule_id}", details=details,
                       ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/social/listening/rules", 303)


# -- all social posts -------------------------------------------------------------------------
@dataclass(frozen=True)
class PostFilters:
    platform: str | None
    sentiment: str | None
    state: str | None
    kind: str | None


def _post_filters(
    platform: Platform = None,
    sentiment: Sentiment | None = None,
    state: State | None = None,
    kind: Kind | None = None,
) -> PostFilters:
    return PostFilters(platform or None, sentiment, state, kind)


@router.get("/social/posts", include_in_schema=False)
async def posts_page(
    request: Request,
    filters: PostFilters = Depends(_post_filters),
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    principal: Principal = Depends(listen),
    db: AsyncSession = DB_SESSION,
) -> Response:
    query = _filtered(select(SocialPost), before=before, **filters.__dict__)
    rows = (await db.scalars(query.limit(PAGE))).all()
    names = await _rule_names(db)
    return _pages().TemplateResponse(
        request,
        "social/posts.html",
        {"principal": principal, "posts": [_view(r, names) for r in rows], "labels": LABELS,
         "platforms": await _platforms(db), "states": STATES,
         "filters": {k: v or "" for k, v in filters.__dict__.items()},
         "query": request.url.query, "more": rows[-1].id if len(rows) == PAGE else None},
    )  # fmt: skip


CSV_COLUMNS = ("id", "platform", "account", "kind", "state", "posted_at", "received_at",
               "author_uid", "author_name", "author_followers", "text", "sentiment",
               "sentiment_label", "emotion", "emotion_score", "keywords", "intent", "topic",
               "spam", "crisis", "influence", "priority", "reposts", "comments", "likes",
               "deleted", "conversation_id", "url")  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_LIMIT = 50_000


def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = "|".join(str(v) for v in value)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    text = "" if value is None else str(value)
    # A cell starting like a formula would run in the reader's spreadsheet.
    return "'" + text if text.startswith(_FORMULA_START) else text


@router.get("/social/posts.csv", include_in_schema=False)
async def posts_csv(
    filters: PostFilters = Depends(_post_filters),
    principal: Principal = Depends(listen),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The filtered posts, newest first (at most EXPORT_LIMIT), text masked as on the page."""
    query = _filtered(select(SocialPost), **filters.__dict__).limit(EXPORT_LIMIT)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in (await db.scalars(query)).all():
        values = {c: getattr(row, c) for c in CSV_COLUMNS}
        values["text"] = mask_text(row.text)
        writer.writerow([_cell(values[c]) for c in CSV_COLUMNS])
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),  # BOM: Excel then reads UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="social-posts.csv"'},
    )
