"""Saved customer segments (issue #16): the customer numbers of a behaviour cluster, kept so
that marketing (campaigns, governed SMS/WeChat sends) can address them later.

A segment is a snapshot, not a live query: a campaign must reach the customers the analyst saw
when saving it, and the audit entry names exactly that list. Campaign code uses only
:func:`list_segments` and :func:`members`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.audit.service import record
from kefu.db.base import Base, UTCDateTime, utcnow

MAX_MEMBERS = 200_000  # a segment is a marketing list, not an export of the whole bank


class Segment(Base):
    """A named list of customer numbers, with where it came from."""

    __tablename__ = "analytics_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(200), default="")  # e.g. "cluster 3 of run …"
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SegmentMember(Base):
    __tablename__ = "analytics_segment_members"
    __table_args__ = (
        UniqueConstraint("segment_id", "customer_no", name="uq_analytics_segment_members"),
        Index("ix_analytics_segment_members_customer_no", "customer_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("analytics_segments.id", ondelete="CASCADE"))
    customer_no: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True)
class SegmentInfo:
    id: int
    name: str
    description: str
    source: str
    size: int
    created_by: str
    created_at: datetime


class SegmentError(ValueError):
    """A segment cannot be saved as asked (empty, too large, name taken, bad number)."""


def _info(s: Segment) -> SegmentInfo:
    return SegmentInfo(s.id, s.name, s.description, s.source, s.size, s.created_by, s.created_at)


async def list_segments(db: AsyncSession) -> list[SegmentInfo]:
    """Every saved segment, newest first."""
    rows = await db.scalars(select(Segment).order_by(Segment.created_at.desc(), Segment.id.desc()))
    return [_info(s) for s in rows]


async def members(db: AsyncSession, segment_id: int) -> list[str]:
    """The customer numbers of a segment, sorted; an unknown segment is a LookupError."""
    if await db.get(Segment, segment_id) is None:
        raise LookupError(f"no segment {segment_id}")
    rows = await db.scalars(
        select(SegmentMember.customer_no)
        .where(SegmentMember.segment_id == segment_id)
        .order_by(SegmentMember.customer_no)
    )
    return list(rows)


async def save_segment(
    db: AsyncSession,
    *,
    name: str,
    customer_nos: Iterable[str],
    actor: str,
    description: str = "",
    source: str = "",
    ip: str | None = None,
) -> SegmentInfo:
    """Save a segment and audit it in the caller's transaction (the caller commits)."""
    name = name.strip()
    if not name or len(name) > 80:
        raise SegmentError("a segment needs a name of 1-80 characters")
    numbers = sorted({n.strip() for n in customer_nos if n and n.strip()})
    if not numbers:
        raise SegmentError("a segment needs at least one customer")
    if len(numbers) > MAX_MEMBERS:
        raise SegmentError(f"a segment holds at most {MAX_MEMBERS} customers")
    if bad := [n for n in numbers if len(n) > 32]:
        raise SegmentError(f"not a customer number: {bad[0][:40]!r}")
    taken = await db.scalar(select(func.count()).where(Segment.name == name))
    if taken:
        raise SegmentError(f"a segment named {name!r} exists")
    seg = Segment(
        name=name,
        description=description[:500],
        source=source[:200],
        size=len(numbers),
        created_by=actor,
    )
    db.add(seg)
    try:
        await db.flush()
    except IntegrityError:  # the same name saved at the same moment: the constraint decides
        raise SegmentError(f"a segment named {name!r} exists") from None
    db.add_all(SegmentMember(segment_id=seg.id, customer_no=n) for n in numbers)
    await record(
        db,
        actor=actor,
        action="analytics.segment.save",
        target=f"segment:{seg.id}",
        details={"name": name, "size": len(numbers), "source": source[:200]},
        ip=ip,
    )
    await db.flush()
    return _info(seg)
