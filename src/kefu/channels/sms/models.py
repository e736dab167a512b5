from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime


class SmsMessage(TimestampMixin, Base):
    """Every SMS in or out. Outbound rows are the outbox: stored before the caller is told
    the message was accepted, then sent by the gateway."""

    __tablename__ = "sms_messages"
    __table_args__ = (Index("ix_sms_messages_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4))  # "in" / "out"
    link: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(21), index=True)
    service_number: Mapped[str] = mapped_column(String(21))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # mo, reply, notification, otp, marketing
    state: Mapped[str] = mapped_column(String(16))
    # Outbound: the caller's idempotency key. Inbound: the carrier delivery's identity.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parts: Mapped[int] = mapped_column(Integer, default=1)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    # Outbound: the gateway process that claimed it (``sending``), so that another process can
    # tell a row whose sender died from one still in flight (see kefu.channels.sms.senders).
    # Once delivered, kept only when the report came to that same process: the outbox judges
    # the carrier's report lag on those rows (reports.py).
    sender: Mapped[str | None] = mapped_column(String(40))
    # Outbound: the mark written (and committed) just before the claimed row's PDUs go to the
    # carrier's socket; cleared by every claim. A ``sending`` row whose sender died without it
    # provably never reached the carrier, so it is queued again at once (outbox.py).
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsCarrierId(Base):
    """The ids a carrier acknowledged a submit with, to match its status reports."""

    __tablename__ = "sms_carrier_ids"

    link: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="CASCADE"), index=True
    )
    # The form the carrier acknowledged (not a hex/decimal variant of it): when two messages'
    # ids collide across forms ("10" and hex "a"), a report quoting a form exactly wins.
    exact: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SmsKeptReport(Base):
    """A status report no message could take yet, kept before it is acknowledged to the
    carrier (an acknowledged report is never delivered again): its submit's answer may be
    recorded later, or it is for a row a killed gateway had sent without recording it."""

    __tablename__ = "sms_kept_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    link: Mapped[str] = mapped_column(String(32))
    carrier_id: Mapped[str] = mapped_column(String(64), index=True)
    handset: Mapped[str] = mapped_column(String(21))
    stat: Mapped[str] = mapped_column(String(16))
    delivered: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SmsSender(Base):
    """A gateway process that claims outbound rows, with its heartbeat."""

    __tablename__ = "sms_senders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))  # host and PID namespace: where pid means it
    pid: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
