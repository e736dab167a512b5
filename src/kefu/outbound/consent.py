"""Recorded consent to marketing, per number (and customer when known).

Consent is evidence: who gave it, when, through what, and when and how it was withdrawn. Rows
are never deleted; a withdrawal closes the open row and a later consent opens a new one. The
TD/T/R/退订 opt-out (``OptOut``) is a separate, stronger signal and wins over any consent.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.channels.sms.numbers import is_mobile, national
from kefu.db.base import utcnow
from kefu.identity.models import ChannelIdentity
from kefu.outbound.models import Consent
from kefu.vocabulary import IdentityKind

SOURCES = ("branch", "web", "app", "sms", "call", "wechat", "import", "api")
KINDS = ("marketing", "notification")


class ConsentError(ValueError):
    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status = status


def _check(phone: str, kind: str, source: str) -> str:
    number = national(phone)
    if not is_mobile(number):
        raise ConsentError("phone", f"{phone!r} is not an 11-digit mainland mobile number")
    if kind not in KINDS:
        raise ConsentError("kind", f"one of {', '.join(KINDS)}")
    if source not in SOURCES:
        raise ConsentError("source", f"one of {', '.join(SOURCES)}")
    return number


async def _customer_of(db: AsyncSession, phone: str) -> int | None:
    return await db.scalar(
        select(ChannelIdentity.customer_id).where(
            ChannelIdentity.kind == IdentityKind.PHONE.value, ChannelIdentity.value == phone
        )
    )


async def active(db: AsyncSession, phone: str, kind: str = "marketing") -> Consent | None:
    return await db.scalar(
        select(Consent)
        .where(Consent.phone == phone, Consent.kind == kind, Consent.withdrawn_at.is_(None))
        .order_by(Consent.id.desc())
        .limit(1)
    )


async def give(
    db: AsyncSession,
    *,
    phone: str,
    source: str,
    actor: str,
    kind: str = "marketing",
    evidence: str | None = None,
) -> Consent:
    """Records a consent; an already open one is returned unchanged (no duplicate rows)."""
    number = _check(phone, kind, source)
    if evidence is not None and len(evidence) > 200:
        raise ConsentError("evidence", "at most 200 characters")
    current = await active(db, number, kind)
    if current is not None:
        return current
    consent = Consent(phone=number, customer_id=await _customer_of(db, number), kind=kind,
                      source=source, evidence=evidence, given_at=utcnow(),
                      recorded_by=actor[:80])  # fmt: skip
    db.add(consent)
    await db.flush()
    await record(db, actor=actor[:80], action="consent.give", target=f"consent:{consent.id}",
                 details={"kind": kind, "source": source, "customer_id": consent.customer_id})  # fmt: skip
    return consent


async def withdraw(
    db: AsyncSession, *, phone: str, source: str, actor: str, kind: str = "marketing"
) -> Consent:
    number = _check(phone, kind, source)
    current = await active(db, number, kind)
    if current is None:
        raise ConsentError("phone", "no open consent for this number", 404)
    current.withdrawn_at = utcnow()
    current.withdrawn_source = source
    await record(db, actor=actor[:80], action="consent.withdraw", target=f"consent:{current.id}",
                 details={"kind": kind, "source": source})  # fmt: skip
    return current


async def history(db: AsyncSession, phone: str) -> list[Consent]:
    number = national(phone)
    customer = await _customer_of(db, number)
    condition = Consent.phone == number
    if customer is not None:
        condition = or_(condition, Consent.customer_id == customer)
    return list((await db.scalars(select(Consent).where(condition).order_by(Consent.id))).all())


async def consenting(db: AsyncSession, phones: Iterable[str], kind: str) -> set[str]:
    """The numbers among ``phones`` with an open consent to ``kind`` (one query per 500)."""
    numbers = list(phones)
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        rows = await db.scalars(
            select(Consent.phone).where(
                Consent.phone.in_(chunk), Consent.kind == kind, Consent.withdrawn_at.is_(None)
            )
        )
        found.update(rows.all())
    return found
