"""The SMS API for the bank's systems and its partners (CP): send texts, read their status.
Governed sending: every request passes the outbound policy (and a partner's checks) here; the
SMS channel's outbox then carries what was accepted.

``POST /api/v1/sms/messages`` decides a whole request before it queues anything:
- request-level errors (a bad number, an unknown or unapproved template, missing or extra
  variables, a text too long, quiet hours, a partner's address, quota or rate) answer 4xx
  problem+json naming the field or ``rule``, and queue nothing;
- recipient-level rules (opt-out, consent, frequency caps: about one person) leave that number
  out and list it under ``refused`` with its rule; the others are queued.
Every queued message is in the outbox before the 202. A repeated idempotency key returns the
original messages and is not counted again against caps, quota or rate.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.bus.limits import Limits
from kefu.bus.limits import of_app as limits_of_app
from kefu.channels.sms.callbacks_api import owner_of
from kefu.channels.sms.gateway import OutboundSms, SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.numbers import is_mobile, national
from kefu.channels.sms.outbox_rows import Stored, insert_many
from kefu.db import mysql
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.outbound import policy as rules
from kefu.outbound import templates
from kefu.outbound.group_commit import GroupCommit
from kefu.outbound.models import SmsTemplate
from kefu.outbound.settings import Caps, SmsPolicySettings
from kefu.partners import service as partners
from kefu.partners.models import Partner, PartnerMessage
from kefu.vocabulary import Role
from kefu.web import idempotency, inputs
from kefu.web.deps import DB_SESSION, Principal, current_principal, require
from kefu.web.errors import problem
from kefu.web.lazy_db import lazy_session

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])
log = get_logger(__name__)


class SendIn(BaseModel):
    model_config = {"extra": "forbid"}

    to: list[inputs.MobileNumber] = Field(
        min_length=1, max_length=1000, json_schema_extra={"uniqueItems": True},
        description="Mainland mobile numbers, each once (with or without +86).",
    )  # fmt: skip
    template: str | None = Field(default=None, min_length=1, max_length=64)
    variables: dict[str, str | int | float] = Field(default_factory=dict, max_length=20)
    text: str | None = Field(
        default=None, min_length=1, max_length=1000,
        description="Free text, for kinds the policy allows (never for partners).",
    )  # fmt: skip
    kind: Literal["notification", "otp", "marketing"] | None = Field(
        default=None, description="Defaults to the template's kind, else notification."
    )
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"
    )
    link: str | None = Field(default=None, max_length=32)

    @field_validator("to")
    @classmethod
    def _numbers(cls, numbers: list[str]) -> list[str]:
        cleaned = []
        for number in numbers:
            n = national(number)
            if not is_mobile(n):
                raise ValueError(f"{number!r} is not an 11-digit mainland mobile number")
            cleaned.append(n)
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a number is listed twice")
        return cleaned

    @model_validator(mode="after")
    def _one_content(self) -> SendIn:
        if (self.template is None) == (self.text is None):
            raise ValueError("template: give either a template (with variables) or a text")
        if self.text is not None and self.variables:
            raise ValueError("variables: only with a template")
        return self


class Accepted(BaseModel):
    id: int
    to: str
    state: str


class Refused(BaseModel):
    to: str
    rule: str
    reason: str


class SendOut(BaseModel):
    accepted: list[Accepted]
    refused: list[Refused]


class StatusOut(BaseModel):
    id: int
    to: str
    kind: str
    state: str
    error: str | None
    report: str | None
    parts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    possibly_duplicated: bool = Field(
        default=False,
        description="Sent again after an interrupted or unanswered submit with no report: the "
        "carrier may have had the first one too, so the handset may have it twice.",
    )
    report_matched: str | None = Field(
        default=None,
        description="How the report was tied to this message when not by the carrier's id: "
        '"number" (the only message to that number waiting for one), "number, one of N".',
    )


class Refuse(Exception):  # noqa: N818 - it is a refusal, answered as problem+json
    """A request-level refusal: nothing is queued."""

    def __init__(
        self,
        status: int,
        rule: str,
        detail: str,
        *,
        retry_after: int | None = None,
        partner: Partner | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.rule, self.detail, self.retry_after = status, rule, detail, retry_after
        self.partner = partner  # a partner known before the refusal: it is counted and audited


def _gateway(request: Request) -> SmsGateway:
    gateway = getattr(request.app.state, "sms", None)
    if gateway is None:
        raise HTTPException(503, "no carrier link is configured (KEFU_SMS_LINKS)")
    return gateway


def _policy(request: Request) -> SmsPolicySettings:
    return request.app.state.settings.sms_policy


def _limits(request: Request) -> Limits:
    # The app's (shared through Redis when KEFU_BUS_URL is set; kefu.bus.limits).
    return limits_of_app(request.app.state)


def now() -> datetime:
    return utcnow()


async def _partner(db: AsyncSession, principal: Principal, request: Request) -> Partner | None:
    """The partner behind a partner-role key, after its account and address checks."""
    if principal.role != Role.PARTNER.value:
        return None
    partner = (await partners.cached_for_api_key(db, principal.id)
               if principal.kind == "apikey" else None)  # fmt: skip
    if partner is None:
        raise Refuse(403, "partner", "this key belongs to no partner account")
    if partner.disabled_at is not None:
        raise Refuse(403, "partner_disabled", f"partner {partner.name!r} is disabled",
                     partner=partner)  # fmt: skip
    host = _host(request)
    if not partners.address_allowed(partner, host):
        raise Refuse(403, "ip_allow", f"{host} is not on the allow-list of {partner.name!r}",
                     partner=partner)  # fmt: skip
    return partner


async def _template(db: AsyncSession, name: str, partner: Partner | None) -> SmsTemplate:
    template = await templates.cached_by_name(db, name)
    if template is None:
        raise Refuse(422, "template", f"template: no template called {name!r}")
    if partner is None and template.partner_id is not None:
        raise Refuse(422, "template", f"template: {name!r} belongs to a partner")
    if partner is not None and not await partners.cached_may_use(db, partner, template):
        raise Refuse(403, "template_not_allowed", f"template: {partner.name!r} may not use "
                                                  f"{name!r}")  # fmt: skip
    return template


async def _originals(db: AsyncSession, keys: dict[str, str]) -> dict[str, SmsMessage]:
    """Recipients whose message under this idempotency key is already in the outbox (the
    gateway stores the key as ``out:<key>``)."""
    if not keys:
        return {}
    by_key = {f"out:{key}": number for number, key in keys.items()}
    rows = await db.scalars(select(SmsMessage).where(SmsMessage.dedupe_key.in_(list(by_key))))
    return {by_key[m.dedupe_key]: m for m in rows.all() if m.dedupe_key}


def _outbox_key(key: str) -> str:
    """The outbox column holds 128 characters with the gateway's ``out:`` prefix; a key name
    and an idempotency key of 64 each would not fit, so a long one is stored as its hash."""
    return key if len(key) <= 124 else "h:" + hashlib.sha256(key.encode()).hexdigest()


def _until_midnight(moment: datetime, timezone: str) -> int:
    start = rules.day_start(moment, timezone)
    return max(1, math.ceil((start + timedelta(days=1) - moment).total_seconds()))


# ---------------------------------------------------------------- the group commit
# Every request's writes (idempotency claim, outbox rows, frequency caps, a partner's quota,
# accounting and audit) go through one GroupCommit per app: one transaction for all the
# requests in flight, each answered after that commit (kefu.outbound.group_commit).


@dataclass
class _Job:
    items: list[OutboundSms]  # recipients past the request's rules; originals included
    kind: str
    moment: datetime
    caps: Caps | None
    policy: SmsPolicySettings
    claim: tuple[str, str, SendIn] | None  # idempotency scope, key, request
    partner: Partner | None
    account: Callable[[AsyncSession, dict[str, Stored], dict[str, rules.Refusal]],
                      Awaitable[None]] | None  # fmt: skip


@dataclass
class _Queued:
    messages: dict[str, tuple[int, str]]  # number → (id, state): queued now or originals
    capped: dict[str, rules.Refusal] = field(default_factory=dict)


async def _queue(request: Request, gateway: SmsGateway, job: _Job) -> _Queued:
    writer = getattr(request.app.state, "sms_group_commit", None)
    if writer is None or writer.gateway is not gateway:
        writer = GroupCommit(request.app.state.sessionmaker,
                             lambda db, jobs: _write(db, gateway, jobs))  # fmt: skip
        writer.gateway = gateway  # type: ignore[attr-defined]
        request.app.state.sms_group_commit = writer
    queued = await writer.submit(job)
    gateway.outbox.wake.set()  # committed: the sender may claim them now
    return queued


async def _serialise(db: AsyncSession) -> None:
    """Makes the batch's cap and quota counts and its inserts one step for every process: on
    PostgreSQL a transaction-scoped advisory lock; on SQLite a write that takes the database's
    write lock before the counts are read (both held until the commit)."""
    if db.bind.dialect.name == "postgresql":
        await db.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    elif db.bind.dialect.name == "mysql":
        await mysql.transaction_lock(db, f"advisory:{_LOCK_KEY}")
    else:
        await db.execute(update(SmsMessage).where(false()).values(id=SmsMessage.id))


_LOCK_KEY = 0x6B656675_534D53  # "kefu" "SMS": the advisory lock of the send API's counts


async def take_send_lock(db: AsyncSession) -> None:
    """The send API's lock, for another sender whose per-recipient counts must not race the
    API's (a cross-selling campaign's start): held until the caller's transaction ends."""
    await _serialise(db)


async def _write(db: AsyncSession, gateway: SmsGateway, jobs: Sequence[_Job]
                 ) -> list[_Queued | BaseException]:  # fmt: skip
    """One transaction for a batch of requests, in their order. A request refused here (its
    idempotency key used with another request, its partner's quota) is refused before
    anything of it but its idempotency claim is written."""
    results: list[_Queued | BaseException | None] = [None] * len(jobs)
    if any(j.caps or j.partner for j in jobs):
        await _serialise(db)
    for i, job in enumerate(jobs):
        if job.claim is not None:
            scope, key, body = job.claim
            try:
                await idempotency.claim(db, scope=scope, key=key, body=body)
            except idempotency.IdempotencyConflict as exc:
                results[i] = exc
    live = [i for i, r in enumerate(results) if r is None]
    keys = [f"out:{it.idempotency_key}" for i in live for it in jobs[i].items
            if it.idempotency_key]  # fmt: skip
    existing: set[str] = set()
    for start in range(0, len(keys), 500):
        existing.update((await db.scalars(select(SmsMessage.dedupe_key).where(
            SmsMessage.dedupe_key.in_(keys[start : start + 500])))).all())  # fmt: skip
    # Today's and this week's sends per number, per capped kind, at the batch's first moment;
    # the batch's own messages are added as they are taken.
    counts: dict[str, dict[str, list[int]]] = {}
    first = jobs[live[0]].moment if live else utcnow()
    for kind in {jobs[i].kind for i in live if jobs[i].caps is not None}:
        phones = sorted({it.to for i in live if jobs[i].kind == kind for it in jobs[i].items})
        found = await rules.sent_counts(db, phones, kind, first, jobs[live[0]].policy.timezone)
        counts[kind] = {n: list(found.get(n, (0, 0))) for n in phones}
    used: dict[int, int] = {}
    taken_keys: set[str] = set()
    plan: list[tuple[int, list[OutboundSms], set[str], dict[str, rules.Refusal]]] = []
    for i in live:
        job = jobs[i]
        fresh, capped = [], {}
        for item in job.items:
            key = f"out:{item.idempotency_key}" if item.idempotency_key else None
            if key is not None and (key in existing or key in taken_keys):
                fresh.append(item)  # an original: the outbox returns it, it is not counted
                continue
            if job.caps is not None:
                day, week = counts[job.kind][item.to]
                refusal = rules.cap_refusal(job.caps, job.kind, day, week)
                if refusal is not None:
                    capped[item.to] = refusal
                    continue
            fresh.append(item)
        new = [it for it in fresh if not (it.idempotency_key and (
            f"out:{it.idempotency_key}" in existing or f"out:{it.idempotency_key}" in taken_keys))]  # fmt: skip
        partner = job.partner
        if partner is not None:
            if partner.id not in used:
                used[partner.id] = await partners.used_today(db, partner, job.moment,
                                                             job.policy.timezone)  # fmt: skip
            if used[partner.id] + len(new) > partner.daily_quota:
                results[i] = Refuse(429, "quota", f"daily quota of {partner.daily_quota} messages "
                                                  f"for {partner.name!r} (used {used[partner.id]}, "
                                                  f"asked {len(new)})",
                                    retry_after=_until_midnight(job.moment, job.policy.timezone),
                                    partner=partner)  # fmt: skip
                continue
            used[partner.id] += len(new)
        for it in new:
            if job.caps is not None:
                counts[job.kind][it.to][0] += 1
                counts[job.kind][it.to][1] += 1
            if it.idempotency_key:
                taken_keys.add(f"out:{it.idempotency_key}")
        plan.append((i, fresh, {it.to for it in new}, capped))
    stored = await insert_many(db, gateway.outbox, [it for _, fresh, _, _ in plan for it in fresh])
    at = 0
    for i, fresh, new_numbers, capped in plan:
        mine = stored[at : at + len(fresh)]
        at += len(fresh)
        job = jobs[i]
        if job.account is not None:
            queued = {it.to: m for it, m in zip(fresh, mine, strict=True) if it.to in new_numbers}
            await job.account(db, queued, capped)
        results[i] = _Queued({it.to: (m.id, m.state) for it, m in zip(fresh, mine, strict=True)},
                             capped)  # fmt: skip
    return [r if r is not None else RuntimeError("job not handled") for r in results]


_may_send = require(Permission.SMS_SEND)  # its checks and its 401 and 403 answers


async def require_sms_send(request: Request) -> Principal:
    """``require(Permission.SMS_SEND)`` without ``get_db`` under it: the caller is read through
    a session opened only when the key is not in its cache (or for a signed-in person), so a
    bank system's request opens none (kefu.web.lazy_db; issue #24). Named as ``require`` names
    its dependency: the role matrix finds a route's permission by that name."""
    async with lazy_session(request) as db:  # an error (401, 403) rolls it back, as get_db did
        return await _may_send(request, await current_principal(request, db))


@router.post(
    "/messages",
    status_code=202,
    response_model=SendOut,
    summary="Send SMS",
    responses={422: {"description": "invalid request or a rule refused it; nothing queued"},
               403: {"description": "partner key: address, template or account refused"},
               429: {"description": "partner quota or rate exceeded (Retry-After)"}},
)  # fmt: skip
async def send(
    body: SendIn,
    request: Request,
    principal: Principal = Depends(require_sms_send),
) -> JSONResponse:
    # The session is opened only by what needs it (an idempotency key, a partner or template
    # not in its cache, the policy's opt-out and consent reads, a refusal to record); it is
    # committed, or rolled back on an error, before the answer is sent.
    gateway = _gateway(request)
    async with lazy_session(request) as db:
        partner: Partner | None = None
        try:
            partner = await _partner(db, principal, request)
            return await _send(body, request, principal, partner, gateway, db)
        except Refuse as refusal:
            partner = partner or refusal.partner
            if partner is not None:
                await partners.record_refusal(db, partner, rule=refusal.rule,
                                              detail=refusal.detail, recipients=len(body.to))  # fmt: skip
                await record(db, actor=principal.name, action="partner.sms.refused",
                             target=f"partner:{partner.id}", ip=_host(request),
                             details={"rule": refusal.rule, "detail": refusal.detail,
                                      "recipients": len(body.to)})  # fmt: skip
            response = problem(refusal.status, refusal.detail, rule=refusal.rule)
            if refusal.retry_after is not None:
                response.headers["Retry-After"] = str(refusal.retry_after)
            return response


def _host(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _send(
    body: SendIn,
    request: Request,
    principal: Principal,
    partner: Partner | None,
    gateway: SmsGateway,
    db: AsyncSession,
) -> JSONResponse:
    policy = _policy(request)
    inputs.check_sms_request(body)  # finite amounts, no control characters (422)
    if body.link is not None and body.link not in gateway.links:
        raise Refuse(422, "link", f"link: no carrier link named {body.link!r}")
    link = gateway.links.get(body.link or next(iter(gateway.links), ""))
    scope = f"partner:{partner.id}" if partner else f"api:{principal.name}"
    idem = body.idempotency_key
    keys = {n: _outbox_key(f"{scope}:{idem}:{n}") for n in body.to} if idem else {}
    await idempotency.check(db, scope=f"{scope}:{idem}", key=idem, body=body)  # 409 on reuse
    # Read here, looked at again in the group commit (a request under the same key may be
    # committed in between): originals are not counted against the rate, caps or quota.
    originals = await _originals(db, keys)
    fresh = [n for n in body.to if n not in originals]
    moment = now()
    if partner is not None and fresh:
        wait = await _limits(request).take(
            f"partner:{partner.id}", len(fresh), rate=partner.rate_per_second, burst=partner.burst
        )
        if wait == math.inf:
            raise Refuse(422, "burst", f"to: at most {partner.burst} recipients per request "
                                       f"for {partner.name!r}")  # fmt: skip
        if wait > 0:
            raise Refuse(429, "rate", f"more than {partner.rate_per_second:g} messages a second "
                                      f"for {partner.name!r}", retry_after=math.ceil(wait))  # fmt: skip
    template = await _template(db, body.template, partner) if body.template else None
    kind = body.kind or (template.kind if template else "notification")
    if template is not None:
        try:
            text = templates.render(template.body, body.variables,
                                    max_length=policy.max_variable_length)  # fmt: skip
        except templates.TemplateError as exc:
            raise Refuse(422, "variables", str(exc)) from None
    else:
        text = body.text or ""
    # The caps are counted in the group commit, where no other request can take the same slot.
    decision = await rules.decide(db, recipients=fresh, kind=kind, text=text, policy=policy,
                                  signature=gateway.signature, template=template,
                                  free_text=partner is None, now=moment, count_caps=False)  # fmt: skip
    if isinstance(decision, rules.Refusal):
        field = {"length": "text", "free_text": "template", "template_kind": "kind",
                 "template_approval": "template", "quiet_hours": "kind"}.get(decision.rule)  # fmt: skip
        raise Refuse(
            422, decision.rule, f"{field}: {decision.reason}" if field else decision.reason
        )
    source = None
    if partner is not None and link is not None:
        try:
            source = partners.source_address(link, partner.sub_code)
        except partners.PartnerError as exc:
            raise Refuse(422, "sub_code", str(exc)) from None
    sender = {"sender": owner_of(principal)}  # whose status callbacks hear of it
    items = [OutboundSms(n, decision.text, kind, body.link, keys.get(n), source, sender)
             for n in [*decision.accepted, *(n for n in body.to if n in originals)]]  # fmt: skip
    account = None
    if partner is not None:
        host, refused = _host(request), decision.refused

        async def account(db: AsyncSession, queued: dict[str, Stored],
                          capped: dict[str, rules.Refusal]) -> None:  # fmt: skip
            await _account(db, principal, partner, host, queued, {**refused, **capped}, body, kind)

    job = _Job(
        items=items, kind=kind, moment=moment, caps=rules.capped(policy, kind), policy=policy,
        claim=(f"{scope}:{idem}", idem, body) if idem else None, partner=partner,
        account=account,
    )  # fmt: skip
    # The request's own session must hold no lock while its job waits for the group commit (on
    # SQLite a flushed write, such as a key's last_used_at, would hold the one write lock the
    # batch needs): what it wrote so far is committed first.
    await db.commit()
    try:
        queued = await _queue(request, gateway, job)
    except (Refuse, HTTPException):
        raise
    except Exception as exc:  # the batch and then the job alone failed: nothing of it is stored
        log.warning("sms_api_write_failed", error=repr(exc)[:300])
        raise HTTPException(503, "nothing was queued: the database refused the write; send the "
                                 "request again (with the same idempotency_key it is safe)",
                            headers={"Retry-After": "1"}) from None  # fmt: skip
    # SendOut's JSON built from values made here (ints and strings), not validated again
    # through response_model (which stays for the OpenAPI document): ~0.015 CPU-ms a request.
    return JSONResponse(
        {"accepted": [{"id": queued.messages[n][0], "to": n, "state": queued.messages[n][1]}
                      for n in body.to if n in queued.messages],
         "refused": [{"to": n, "rule": r.rule, "reason": r.reason}
                     for n, r in {**decision.refused, **queued.capped}.items()]},
        status_code=202,
    )  # fmt: skip


async def _account(
    db: AsyncSession,
    principal: Principal,
    partner: Partner,
    host: str | None,
    queued: dict[str, Stored],
    refused: dict[str, rules.Refusal],
    body: SendIn,
    kind: str,
) -> None:
    """A partner's send is counted against its quota, its refusals shown to admins, and the
    whole request audited (in the group commit, in the transaction of its messages)."""
    db.add_all(PartnerMessage(message_id=m.id, partner_id=partner.id) for m in queued.values())
    by_rule: dict[str, int] = {}
    for refusal in refused.values():
        by_rule[refusal.rule] = by_rule.get(refusal.rule, 0) + 1
    for rule, count in by_rule.items():
        await partners.record_refusal(db, partner, rule=rule, detail="recipient refused",
                                      recipients=count)  # fmt: skip
    await record(db, actor=principal.name, action="partner.sms.send",
                 target=f"partner:{partner.id}", ip=host,
                 details={"template": body.template, "kind": kind, "queued": len(queued),
                          "ids": [m.id for m in queued.values()][:100], "refused": by_rule,
                          "idempotency_key": body.idempotency_key})  # fmt: skip


@router.get("/messages/{message_id}", response_model=StatusOut, summary="Status of one SMS")
async def status(
    message_id: Annotated[int, Path(ge=1, le=inputs.MAX_ID)],
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = DB_SESSION,
) -> StatusOut:
    message = await db.get(SmsMessage, message_id)
    if message is None or message.direction != "out":
        raise HTTPException(404, f"no outbound SMS {message_id}")
    if principal.role == Role.PARTNER.value:
        # A partner reads its own messages only; others' look like missing ones.
        partner = await partners.cached_for_api_key(db, principal.id)
        owner = await db.get(PartnerMessage, message_id)
        if partner is None or owner is None or owner.partner_id != partner.id:
            raise HTTPException(404, f"no outbound SMS {message_id}")
    return StatusOut(
        id=message.id, to=message.phone, kind=message.kind, state=message.state,
        error=message.error, report=(message.meta or {}).get("report"), parts=message.parts,
        created_at=message.created_at, sent_at=message.sent_at, delivered_at=message.delivered_at,
        possibly_duplicated=bool((message.meta or {}).get("possibly_duplicated")),
        report_matched=(message.meta or {}).get("report_matched"),
    )  # fmt: skip
