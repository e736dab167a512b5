"""The rules every non-transactional SMS passes before it is queued.

One entry point, ``decide`` (``check`` for a single number), used by the SMS API, partner
sends and scheduled subscriptions alike. It answers either a request-level ``Refusal`` (the
rule's name and a sentence: nothing may be queued) or a ``Decision``: the final text (signature
prepended, opt-out hint appended to marketing) and, per recipient, a ``Refusal`` for those the
rules keep it from (opt-out, consent, frequency caps).

Rules, in order:
  template_approval / template_kind / free_text — what may be sent at all (request);
  quiet_hours — when (request); length — the final text within the allowed segments (request);
  opt_out — TD/T/R/退订 honoured at once; consent — a recorded, unwithdrawn consent;
  cap_day / cap_week — per number and kind, counted from the outbox (recipient).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.sms.models import SmsMessage
from kefu.db.base import utcnow
from kefu.outbound.consent import consenting
from kefu.outbound.models import OptOut, SmsTemplate
from kefu.outbound.settings import Caps, SmsPolicySettings
from kefu.protocols import text as textcodec
from kefu.vocabulary import DeliveryState, Direction

_ENDS_SENTENCE = tuple("。！？!?.，,；;")


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str


@dataclass
class Decision:
    text: str
    accepted: list[str]
    refused: dict[str, Refusal] = field(default_factory=dict)


def segments_needed(text: str) -> int:
    encoding = textcodec.choose_encoding(text, (textcodec.GSM7, textcodec.UCS2))
    return len(textcodec.split(text, encoding))


def compose(text: str, *, kind: str, policy: SmsPolicySettings, signature: str) -> str:
    """The text as the handset shows it: 【signature】 + text (+ the opt-out hint)."""
    body = text.strip()
    hint = policy.opt_out_hint if kind == "marketing" else ""
    if hint and hint not in body:
        body += ("" if body.endswith(_ENDS_SENTENCE) else "。") + hint
    if signature and not body.startswith(signature):
        body = signature + body
    return body


def quiet_hours_refusal(
    kind: str, policy: SmsPolicySettings, now: datetime | None = None
) -> Refusal | None:
    window = policy.window(kind)
    if window is None:
        return None
    local = (now or utcnow()).astimezone(ZoneInfo(policy.timezone)).time()
    start, end = window
    if start <= local and (end is None or local < end):
        return None
    spec = policy.send_hours[kind]  # type: ignore[index]
    return Refusal(
        "quiet_hours", f"{kind} is sent only between {spec.replace('-', ' and ')} "
        f"({policy.timezone}); it is {local:%H:%M} there now",
    )  # fmt: skip


async def decide(
    db: AsyncSession,
    *,
    recipients: Sequence[str],
    kind: str,
    text: str,
    policy: SmsPolicySettings,
    signature: str,
    template: SmsTemplate | None = None,
    free_text: bool = True,
    now: datetime | None = None,
    count_caps: bool = True,
) -> Refusal | Decision:
    """``text`` is the rendered template (or the free text); ``free_text=False`` forbids
    sending without a template whatever the settings say (partners). ``count_caps=False``
    leaves the frequency caps to the caller, which must apply them with ``cap_refusal`` and
    ``sent_counts`` in the transaction that queues the messages (the send API does, in its
    group commit, so that two requests cannot both take a number's last slot)."""
    now = now or utcnow()
    if template is not None:
        if template.status != "approved":
            return Refusal("template_approval", f"template {template.name!r} is "
                                                f"{template.status}, not approved")  # fmt: skip
        if template.kind != kind:
            return Refusal("template_kind", f"template {template.name!r} is for "
                                            f"{template.kind} messages, not {kind}")  # fmt: skip
    elif not free_text or kind not in policy.free_text_kinds:
        return Refusal("free_text", f"{kind} messages are sent from an approved template only")
    refusal = quiet_hours_refusal(kind, policy, now)
    if refusal:
        return refusal
    final = compose(text, kind=kind, policy=policy, signature=signature)
    if segments_needed(final) > policy.max_segments:
        return Refusal("length", f"longer than {policy.max_segments} SMS segments with the "
                                 f"signature{' and opt-out hint' if kind == 'marketing' else ''}")  # fmt: skip
    decision = Decision(text=final, accepted=[])
    refused = decision.refused
    if kind in policy.opt_out_kinds:
        opted = await _opted_out(db, recipients)
        for number in opted:
            refused[number] = Refusal("opt_out", "the customer replied TD (unsubscribe)")
    if kind in policy.consent_kinds:
        pending = [n for n in recipients if n not in refused]
        agreed = await consenting(db, pending, kind)
        for number in pending:
            if number not in agreed:
                refused[number] = Refusal("consent", f"no recorded consent to {kind} messages")
    caps = capped(policy, kind)
    if caps is not None and count_caps:
        pending = [n for n in recipients if n not in refused]
        counts = await sent_counts(db, pending, kind, now, policy.timezone)
        for number in pending:
            refusal = cap_refusal(caps, kind, *counts.get(number, (0, 0)))
            if refusal is not None:
                refused[number] = refusal
    decision.accepted = [n for n in recipients if n not in refused]
    return decision


def capped(policy: SmsPolicySettings, kind: str) -> Caps | None:
    """The caps on ``kind``, or None when it has none."""
    caps = policy.caps.get(kind)  # type: ignore[call-overload]
    return caps if caps is not None and (caps.per_day or caps.per_week) else None


def cap_refusal(caps: Caps, kind: str, day: int, week: int) -> Refusal | None:
    """The cap a number already at ``day`` messages today and ``week`` in 7 days hits."""
    if caps.per_day and day >= caps.per_day:
        return Refusal("cap_day", f"already {day} {kind} messages today (cap {caps.per_day})")
    if caps.per_week and week >= caps.per_week:
        return Refusal(
            "cap_week", f"already {week} {kind} messages in 7 days (cap {caps.per_week})"
        )
    return None


async def check(
    db: AsyncSession,
    *,
    phone: str,
    kind: str,
    text: str,
    policy: SmsPolicySettings,
    signature: str,
    template: SmsTemplate | None = None,
    free_text: bool = True,
    now: datetime | None = None,
) -> Refusal | str:
    """One message to one number: the refusing rule, or the final text to queue."""
    result = await decide(db, recipients=[phone], kind=kind, text=text, policy=policy,
                          signature=signature, template=template, free_text=free_text, now=now)  # fmt: skip
    if isinstance(result, Refusal):
        return result
    return result.refused.get(phone) or result.text


async def _opted_out(db: AsyncSession, phones: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(phones), 500):
        rows = await db.scalars(
            select(OptOut.value).where(
                OptOut.kind == "phone", OptOut.value.in_(phones[start : start + 500])
            )
        )
        found.update(rows.all())
    return found


def day_start(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def sent_counts(
    db: AsyncSession, phones: Sequence[str], kind: str, now: datetime, timezone: str
) -> dict[str, tuple[int, int]]:
    """Per number: messages of ``kind`` queued today (local day) and in the last 7 days.
    Failed sends never reached the handset, so they do not count."""
    today = day_start(now, timezone)
    week = now - timedelta(days=7)
    counts: dict[str, tuple[int, int]] = {}
    for start in range(0, len(phones), 500):
        rows = await db.execute(
            select(
                SmsMessage.phone,
                func.sum(case((SmsMessage.created_at >= today, 1), else_=0)),
                func.count(),
            )
            .where(
                SmsMessage.phone.in_(phones[start : start + 500]),
                SmsMessage.direction == Direction.OUTBOUND.value,
                SmsMessage.kind == kind,
                SmsMessage.state != DeliveryState.FAILED.value,
                SmsMessage.created_at >= min(week, today),
            )
            .group_by(SmsMessage.phone)
        )
        for phone, day, total in rows.all():
            counts[phone] = (int(day or 0), int(total))
    return counts
