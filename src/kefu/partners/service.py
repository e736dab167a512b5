"""Partner (CP) accounts: create, change, disable; their keys, templates, usage and refusals.

Every change is audited. A partner's API key is an ordinary ``kefu.auth`` key with role
``partner`` (it may send SMS and author its own templates, nothing else), linked here to its
partner so that a revoked key, a disabled partner or an address off the allow-list is refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import column, func, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.cache import MISSING, ReadCache
from kefu.auth.models import ApiKey
from kefu.auth.service import UserError, create_api_key, revoke_api_key
from kefu.channels.sms.config import SmsLink
from kefu.db.base import utcnow
from kefu.outbound.models import SmsTemplate
from kefu.outbound.policy import day_start
from kefu.partners.models import (
    Partner,
    PartnerApiKey,
    PartnerMessage,
    PartnerRefusal,
    PartnerTemplate,
)
from kefu.vocabulary import Role

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
SUB_CODE = re.compile(r"^\d{1,8}$")
# The source-address field of each protocol (SMPP's C-string counts its NUL).
SOURCE_WIDTH = {"smpp": 20, "cmpp2": 21, "cmpp3": 21, "sgip": 21, "smgp": 21}


class PartnerError(ValueError):
    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status = status


@dataclass(frozen=True)
class PartnerTerms:
    """What an admin sets for a partner (everything but its name and sub-code)."""

    display_name: str
    ip_allow: list[str] = field(default_factory=list)
    daily_quota: int = 10_000
    rate_per_second: float = 10.0
    burst: int = 100


def check_cidrs(values: Iterable[str]) -> list[str]:
    cidrs = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            cidrs.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise PartnerError("ip_allow", f"{value!r} is not an IP address or CIDR") from None
    return cidrs


def address_allowed(partner: Partner, host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(c, strict=False) for c in partner.ip_allow or [])


def source_address(link: SmsLink, sub_code: str) -> str:
    """The service number the partner's messages leave from: 95511 + 5566 → 955115566."""
    source = link.service_number + sub_code
    width = SOURCE_WIDTH[link.protocol]
    if len(source) > width:
        raise PartnerError("sub_code", f"{link.service_number}+{sub_code} is longer than "
                                       f"{width} digits, the {link.protocol} source field")  # fmt: skip
    return source


def _check_terms(terms: PartnerTerms) -> PartnerTerms:
    if not terms.display_name.strip() or len(terms.display_name) > 64:
        raise PartnerError("display_name", "1-64 characters")
    if not 1 <= terms.daily_quota <= 10_000_000:
        raise PartnerError("daily_quota", "between 1 and 10,000,000 messages a day")
    if not 0 < terms.rate_per_second <= 10_000:
        raise PartnerError("rate_per_second", "above 0 and at most 10,000 messages a second")
    if not 1 <= terms.burst <= 10_000:
        raise PartnerError("burst", "between 1 and 10,000 messages")
    return PartnerTerms(terms.display_name.strip(), check_cidrs(terms.ip_allow),
                        terms.daily_quota, terms.rate_per_second, terms.burst)  # fmt: skip


# Cross-selling campaigns' reply sub-codes, read by table name (partners do not import
# kefu.crosssell; a campaign checks partners' the same way round).
_CAMPAIGNS = table("crosssell_campaigns", column("sub_code"))


async def create_partner(
    db: AsyncSession,
    *,
    name: str,
    sub_code: str,
    terms: PartnerTerms,
    actor: str,
    links: Sequence[SmsLink] = (),
    reserved_sub_codes: Iterable[str] = (),
) -> Partner:
    """``links`` are checked for room for the sub-code; ``reserved_sub_codes`` (the business
    routes of ``sms_routes``) may not be taken by a partner."""
    if not NAME.match(name):
        raise PartnerError("name", "1-48 of a-z 0-9 _ - (starting with a letter or digit)")
    if not SUB_CODE.match(sub_code):
        raise PartnerError("sub_code", "1-8 digits")
    if sub_code in set(reserved_sub_codes):
        raise PartnerError("sub_code", f"{sub_code} is a business route in sms_routes", 409)
    for link in links:
        source_address(link, sub_code)
    terms = _check_terms(terms)
    if await db.scalar(select(Partner.id).where(Partner.name == name)):
        raise PartnerError("name", f"a partner called {name!r} already exists", 409)
    if await db.scalar(select(Partner.id).where(Partner.sub_code == sub_code)):
        raise PartnerError("sub_code", f"{sub_code} belongs to another partner", 409)
    if await db.scalar(select(_CAMPAIGNS.c.sub_code).where(_CAMPAIGNS.c.sub_code == sub_code)):
        raise PartnerError("sub_code", f"{sub_code} is a cross-selling campaign's reply code", 409)
    partner = Partner(name=name, sub_code=sub_code, display_name=terms.display_name,
                      ip_allow=terms.ip_allow, daily_quota=terms.daily_quota,
                      rate_per_second=terms.rate_per_second, burst=terms.burst)  # fmt: skip
    # The unique constraints are the guard: two requests may both pass the checks above.
    try:
        async with db.begin_nested():
            db.add(partner)
            await db.flush()
    except IntegrityError:
        raise PartnerError(
            "sub_code", f"{name!r} or sub-code {sub_code} was just taken by another partner", 409
        ) from None
    await record(db, actor=actor, action="partner.create", target=f"partner:{partner.id}",
                 details={"name": name, "sub_code": sub_code, **_terms_details(partner)})  # fmt: skip
    return partner


def _terms_details(partner: Partner) -> dict[str, Any]:
    return {"ip_allow": partner.ip_allow, "daily_quota": partner.daily_quota,
            "rate_per_second": partner.rate_per_second, "burst": partner.burst}  # fmt: skip


async def update_terms(
    db: AsyncSession, partner: Partner, *, terms: PartnerTerms, actor: str
) -> Partner:
    terms = _check_terms(terms)
    partner.display_name = terms.display_name
    partner.ip_allow = terms.ip_allow
    partner.daily_quota = terms.daily_quota
    partner.rate_per_second = terms.rate_per_second
    partner.burst = terms.burst
    await record(db, actor=actor, action="partner.update", target=f"partner:{partner.id}",
                 details=_terms_details(partner))  # fmt: skip
    return partner


async def set_enabled(db: AsyncSession, partner: Partner, *, enabled: bool, actor: str) -> Partner:
    partner.disabled_at = None if enabled else (partner.disabled_at or utcnow())
    await record(db, actor=actor, action="partner.enable" if enabled else "partner.disable",
                 target=f"partner:{partner.id}")  # fmt: skip
    return partner


async def by_name(db: AsyncSession, name: str) -> Partner:
    partner = await db.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise PartnerError("partner", f"no partner called {name!r}", 404)
    return partner


async def by_sub_code(db: AsyncSession, sub_code: str) -> Partner | None:
    """The active partner whose sub-code a handset dialled (95511 + ``sub_code``)."""
    return await db.scalar(
        select(Partner).where(Partner.sub_code == sub_code, Partner.disabled_at.is_(None))
    )


async def for_api_key(db: AsyncSession, api_key_id: int) -> Partner | None:
    return await db.scalar(
        select(Partner)
        .join(PartnerApiKey, PartnerApiKey.partner_id == Partner.id)
        .where(PartnerApiKey.api_key_id == api_key_id)
    )


# The send API reads, on every call, the partner behind the key and its right to the template:
# kept 2 s per process, emptied by any write to partners, their keys or their templates here
# (a partner disabled, a key revoked, a template allowed), another process's seen within 2 s.
_by_key: ReadCache[int, Partner | None] = ReadCache(Partner, PartnerApiKey)
_may_use: ReadCache[tuple[int, int], bool] = ReadCache(PartnerTemplate, SmsTemplate)


async def cached_for_api_key(db: AsyncSession, api_key_id: int) -> Partner | None:
    """``for_api_key`` for read-only use: the partner comes detached from any session (shared
    by the requests of the next 2 s), so it must not be changed."""
    partner = _by_key.get(api_key_id)
    if partner is not MISSING:
        return partner
    generation = _by_key.generation
    partner = await for_api_key(db, api_key_id)
    if partner is not None:
        db.expunge(partner)
    _by_key.put(api_key_id, partner, generation)
    return partner


async def cached_may_use(db: AsyncSession, partner: Partner, template: SmsTemplate) -> bool:
    key = (partner.id, template.id)
    allowed = _may_use.get(key)
    if allowed is MISSING:
        generation = _may_use.generation
        allowed = await may_use(db, partner, template)
        _may_use.put(key, allowed, generation)
    return allowed


KEY_NAME_ATTEMPTS = 5


async def _next_key_number(db: AsyncSession, partner: Partner) -> int:
    prefix = f"partner:{partner.name}:"
    taken = set(
        await db.scalars(select(ApiKey.name).where(ApiKey.name.startswith(prefix, autoescape=True)))
    )
    number = len(taken) + 1
    while f"{prefix}{number}" in taken:
        number += 1
    return number


async def create_key(db: AsyncSession, partner: Partner, *, actor: str) -> tuple[ApiKey, str]:
    """A new key for the partner, named ``partner:<name>:<n>`` with the first free n; the
    clear key is returned once. Keys created at the same moment each get a number (the one
    that loses the unique name takes the next)."""
    for _ in range(KEY_NAME_ATTEMPTS):
        name = f"partner:{partner.name}:{await _next_key_number(db, partner)}"
        try:
            async with db.begin_nested():
                key, clear = await create_api_key(
                    db, name=name, role=Role.PARTNER.value, actor=actor
                )
            break
        except (UserError, IntegrityError):  # the name was taken since we looked: the next
            continue
    else:
        raise PartnerError("key", "keys are being created too fast; try again", 409)
    db.add(PartnerApiKey(api_key_id=key.id, partner_id=partner.id))
    await db.flush()
    await record(db, actor=actor, action="partner.key_create", target=f"partner:{partner.id}",
                 details={"key": name})  # fmt: skip
    return key, clear


async def keys(db: AsyncSession, partner: Partner) -> list[ApiKey]:
    rows = await db.scalars(
        select(ApiKey)
        .join(PartnerApiKey, PartnerApiKey.api_key_id == ApiKey.id)
        .where(PartnerApiKey.partner_id == partner.id)
        .order_by(ApiKey.id)
    )
    return list(rows.all())


async def revoke_key(db: AsyncSession, partner: Partner, *, key_name: str, actor: str) -> ApiKey:
    if key_name not in {k.name for k in await keys(db, partner)}:
        raise PartnerError("key", f"{partner.name} has no key called {key_name!r}", 404)
    return await revoke_api_key(db, name=key_name, actor=actor)


async def allowed_templates(db: AsyncSession, partner: Partner) -> list[SmsTemplate]:
    """The partner's own templates and the bank templates it was allowed."""
    granted = select(PartnerTemplate.template_id).where(PartnerTemplate.partner_id == partner.id)
    rows = await db.scalars(
        select(SmsTemplate)
        .where((SmsTemplate.partner_id == partner.id) | SmsTemplate.id.in_(granted))
        .order_by(SmsTemplate.name)
    )
    return list(rows.all())


async def may_use(db: AsyncSession, partner: Partner, template: SmsTemplate) -> bool:
    if template.partner_id == partner.id:
        return True
    return bool(
        await db.scalar(
            select(PartnerTemplate.template_id).where(
                PartnerTemplate.partner_id == partner.id,
                PartnerTemplate.template_id == template.id,
            )
        )
    )


async def allow_template(
    db: AsyncSession, partner: Partner, template: SmsTemplate, *, allow: bool, actor: str
) -> None:
    if template.partner_id is not None and template.partner_id != partner.id:
        raise PartnerError("template", f"{template.name!r} belongs to another partner", 409)
    current = await db.get(PartnerTemplate, (partner.id, template.id))
    if allow and current is None:
        db.add(PartnerTemplate(partner_id=partner.id, template_id=template.id))
    elif not allow and current is not None:
        await db.delete(current)
    await db.flush()
    await record(db, actor=actor,
                 action="partner.template_allow" if allow else "partner.template_disallow",
                 target=f"partner:{partner.id}", details={"template": template.name})  # fmt: skip


async def used_today(db: AsyncSession, partner: Partner, now: datetime, timezone: str) -> int:
    return int(
        await db.scalar(
            select(func.count())
            .select_from(PartnerMessage)
            .where(
                PartnerMessage.partner_id == partner.id,
                PartnerMessage.at >= day_start(now, timezone),
            )
        )
        or 0
    )


async def record_refusal(
    db: AsyncSession, partner: Partner, *, rule: str, detail: str, recipients: int = 1
) -> None:
    db.add(PartnerRefusal(partner_id=partner.id, rule=rule[:32], detail=detail[:300],
                          recipients=recipients))  # fmt: skip
    await db.flush()


@dataclass
class Usage:
    partner: Partner
    sent_today: int = 0
    sent_week: int = 0
    refused_today: int = 0
    refused_week: int = 0
    by_day: dict[str, list[int]] = field(default_factory=dict)  # day → [sent, refused]
    last_refusals: list[PartnerRefusal] = field(default_factory=list)


async def usage(
    db: AsyncSession, partners: Sequence[Partner], *, timezone: str, now: datetime | None = None
) -> list[Usage]:
    """Per partner, messages queued and recipients refused today and in the last 7 days
    (local days), with a per-day series for the chart."""
    now = now or utcnow()
    today = day_start(now, timezone)
    since = today - timedelta(days=6)
    days = [(today - timedelta(days=d)).date() for d in range(6, -1, -1)]
    out = {p.id: Usage(p, by_day={d.isoformat(): [0, 0] for d in days}) for p in partners}
    ids = list(out)
    if not ids:
        return []
    sent = await db.execute(select(PartnerMessage.partner_id, PartnerMessage.at)
                            .where(PartnerMessage.partner_id.in_(ids), PartnerMessage.at >= since))  # fmt: skip
    refused = await db.execute(
        select(PartnerRefusal.partner_id, PartnerRefusal.at, PartnerRefusal.recipients).where(
            PartnerRefusal.partner_id.in_(ids), PartnerRefusal.at >= since
        )
    )
    for pid, at in sent.all():
        _count(out[pid], _local_day(at, timezone), today.date(), 0, 1)
    for pid, at, n in refused.all():
        _count(out[pid], _local_day(at, timezone), today.date(), 1, n)
    for item in out.values():
        rows = await db.scalars(
            select(PartnerRefusal)
            .where(PartnerRefusal.partner_id == item.partner.id)
            .order_by(PartnerRefusal.id.desc())
            .limit(10)
        )
        item.last_refusals = list(rows.all())
    return list(out.values())


def _local_day(at: datetime, timezone: str) -> date:
    return day_start(at, timezone).date()


def _count(item: Usage, day: date, today: date, index: int, n: int) -> None:
    key = day.isoformat()
    if key in item.by_day:
        item.by_day[key][index] += n
    if index == 0:
        item.sent_week += n
        item.sent_today += n if day == today else 0
    else:
        item.refused_week += n
        item.refused_today += n if day == today else 0
