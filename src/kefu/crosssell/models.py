"""What cross-selling stores: offer outcomes the agents record, and customers' risk
assessments (风险测评) as the bank's assessment desk hands them over."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow

OUTCOMES = ("offered", "interested", "accepted", "declined", "not_suitable")


class OfferOutcome(Base):
    """One outcome of one offer. ``occasion`` is the conversation ("c123") or, without one, the
    day ("d2026-12-06"): the same outcome recorded twice on one occasion is one row."""

    __tablename__ = "crosssell_outcomes"
    __table_args__ = (
        UniqueConstraint(
            "customer_no", "product_code", "outcome", "occasion", name="uq_crosssell_outcomes_once"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_no: Mapped[str] = mapped_column(String(32), index=True)
    product_code: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    occasion: Mapped[str] = mapped_column(String(24))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RiskAssessment(Base):
    """The customer's latest risk assessment: level C1..C5 as 1..5."""

    __tablename__ = "crosssell_risk_assessments"

    customer_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    assessed_on: Mapped[date] = mapped_column(Date)
