"""One-time codes: binding a channel identity, confirming a card loss report.

A code is six digits, stored only as a salted hash, valid for five minutes, used once, and
dead after five wrong tries. At most three codes per address per hour, so a script cannot
flood a customer's phone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, Integer, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
MAX_PER_HOUR = 3


class OtpChallenge(TimestampMixin, Base):
    __tablename__ = "otp_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))  # "bind", "card_loss"
    address: Mapped[str] = mapped_column(String(128), index=True)  # where the code was sent
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OtpRateLimited(Exception):
    pass


@dataclass(frozen=True)
class OtpCheck:
    ok: bool
    reason: str | None = None  # "wrong", "expired", "locked", "none"
    payload: dict | None = None


def _hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


async def issue(
    session: AsyncSession, *, purpose: str, address: str, payload: dict, now: datetime | None = None
) -> str:
    """A new code for ``address``; earlier open codes for the same purpose stop working."""
    now = now or utcnow()
    recent = await session.scalar(
        select(func.count())
        .select_from(OtpChallenge)
        .where(OtpChallenge.address == address, OtpChallenge.created_at > now - timedelta(hours=1))
    )
    if (recent or 0) >= MAX_PER_HOUR:
        raise OtpRateLimited(address)
    for open_challenge in await _open(session, purpose, address, now):
        open_challenge.consumed_at = now
    code = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(8)
    session.add(
        OtpChallenge(
            purpose=purpose,
            address=address,
            code_hash=_hash(code, salt),
            salt=salt,
            payload=payload,
            expires_at=now + CODE_TTL,
            created_at=now,
        )
    )
    await session.flush()
    return code


async def _open(
    session: AsyncSession, purpose: str, address: str, now: datetime
) -> list[OtpChallenge]:
    return list(
        (
            await session.scalars(
                select(OtpChallenge).where(
                    OtpChallenge.purpose == purpose,
                    OtpChallenge.address == address,
                    OtpChallenge.consumed_at.is_(None),
                )
            )
        ).all()
    )


async def verify(
    session: AsyncSession, *, purpose: str, address: str, code: str, now: datetime | None = None
) -> OtpCheck:
    """Checks ``code``. A try is claimed with one conditional UPDATE (``attempts < MAX``)
    *before* the code is compared, so parallel wrong codes cannot be checked more than
    ``MAX_ATTEMPTS`` times (issue 21, finding 2): concurrent claims serialise on the row
    (PostgreSQL's row lock, SQLite's write lock) and each sees the others' increments."""
    now = now or utcnow()
    challenges = await _open(session, purpose, address, now)
    if not challenges:
        return OtpCheck(False, "none")
    challenge = max(challenges, key=lambda c: c.id)
    row = OtpChallenge.__table__.c
    if challenge.expires_at <= now:
        await session.execute(
            update(OtpChallenge.__table__)
            .where(row.id == challenge.id, row.consumed_at.is_(None))
            .values(consumed_at=now)
        )
        return OtpCheck(False, "expired")
    attempts = (
        await session.execute(
            update(OtpChallenge.__table__)
            .where(row.id == challenge.id, row.consumed_at.is_(None), row.attempts < MAX_ATTEMPTS)
            .values(attempts=row.attempts + 1)
            .returning(row.attempts)
        )
    ).scalar_one_or_none()
    if attempts is None:  # used, or its tries all taken, by a parallel request
        return OtpCheck(False, "locked")
    right = hmac.compare_digest(challenge.code_hash, _hash(code.strip(), challenge.salt))
    if right or attempts >= MAX_ATTEMPTS:
        consumed = (
            await session.execute(
                update(OtpChallenge.__table__)
                .where(row.id == challenge.id, row.consumed_at.is_(None))
                .values(consumed_at=now)
                .returning(row.id)
            )
        ).scalar_one_or_none()
        if right:
            return (
                OtpCheck(True, payload=dict(challenge.payload))
                if consumed
                else OtpCheck(False, "none")
            )
        return OtpCheck(False, "locked")
    return OtpCheck(False, "wrong")
