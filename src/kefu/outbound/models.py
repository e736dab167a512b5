"""Governed outbound: opt-outs (TD), SMS templates (maker-checker) and recorded consents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class OptOut(Base):
    """An address that refused marketing (TD/T/R/退订). Removed again by DY (subscribe)."""

    __tablename__ = "marketing_optouts"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_marketing_optouts_kind_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsTemplate(TimestampMixin, Base):
    """A named text with ``{variable}`` placeholders. Only ``approved`` templates send; the
    approver is never the author nor the last editor (maker-checker)."""

    __tablename__ = "sms_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # notification, marketing, otp
    body: Mapped[str] = mapped_column(Text)
    # The owner: the bank (NULL) or one partner (CP), who alone may send it.
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Principal names ("admin", "apikey:core"): keys author templates too.
    created_by: Mapped[str] = mapped_column(String(80))
    updated_by: Mapped[str] = mapped_column(String(80))
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    review_note: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Consent(Base):
    """A customer's recorded consent to a kind of message on one number. Withdrawing keeps
    the row (when, how) so the history stays provable; a new consent is a new row."""

    __tablename__ = "marketing_consents"
    __table_args__ = (Index("ix_marketing_consents_phone_kind", "phone", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(21))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="marketing")
    source: Mapped[str] = mapped_column(String(32))  # branch, web, app, sms, call, import, api
    evidence: Mapped[str | None] = mapped_column(String(200))  # form number, call id, …
    given_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(80))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_source: Mapped[str | None] = mapped_column(String(32))
