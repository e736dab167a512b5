"""Partner (CP) accounts under the bank's SP code, their keys, templates and traffic."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class Partner(TimestampMixin, Base):
    """A content partner sending through the bank's SP account. Its messages leave from the
    service number + ``sub_code`` (95511 + 5566), so replies can be routed back to it."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    sub_code: Mapped[str] = mapped_column(String(8), unique=True)
    # CIDRs the partner's calls may come from; an empty list refuses every call.
    ip_allow: Mapped[list] = mapped_column(JSON, default=list)
    daily_quota: Mapped[int] = mapped_column(Integer)  # messages per China day
    rate_per_second: Mapped[float] = mapped_column(Float)  # token bucket refill
    burst: Mapped[int] = mapped_column(Integer)  # token bucket size: most recipients at once
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PartnerApiKey(Base):
    """Links an API key (kefu.auth, role ``partner``) to its partner."""

    __tablename__ = "partner_api_keys"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )


class PartnerTemplate(Base):
    """A bank template a partner may send (its own templates it may send anyway)."""

    __tablename__ = "partner_templates"

    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[int] = mapped_column(
        ForeignKey("sms_templates.id", ondelete="CASCADE"), primary_key=True
    )


class PartnerMessage(Base):
    """One outbox row a partner queued: its daily quota and usage are counted here."""

    __tablename__ = "partner_messages"
    __table_args__ = (Index("ix_partner_messages_partner_id_at", "partner_id", "at"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PartnerRefusal(Base):
    """A partner request or recipient refused, with the rule: shown to admins."""

    __tablename__ = "partner_refusals"
    __table_args__ = (Index("ix_partner_refusals_partner_id_at", "partner_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rule: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(300))
    recipients: Mapped[int] = mapped_column(Integer, default=1)
