"""Subscriptions (定制) and what the scheduler did with them.

A row in ``subscriptions`` is a customer's recorded request for one service on one channel;
unsubscribing deletes it (the audit log keeps the history). ``subscription_notices`` holds one
row per notice ever due — its unique ``key`` (customer, service, channel, period) is what keeps
a re-run, a restart or a second scheduler process from sending twice. ``subscription_runs`` is
the scheduler's progress and last run for the supervisor page.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class Subscription(TimestampMixin, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        # Leads with customer_id, so the scheduler's keyset paging by customer uses it.
        UniqueConstraint("customer_id", "service", "channel", name="uq_subscriptions_customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(24))  # kefu.subscriptions.service.Service
    channel: Mapped[str] = mapped_column(String(16))  # kefu.vocabulary.Channel
    days_before: Mapped[int | None] = mapped_column(Integer)  # repayment reminders
    threshold_fen: Mapped[int | None] = mapped_column(BigInteger)  # balance alerts
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubscriptionRun(Base):
    __tablename__ = "subscription_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    today: Mapped[date] = mapped_column(Date)  # the business day (China) the run covered
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # running, done, failed
    customers: Mapped[int] = mapped_column(Integer, default=0)  # subscribers looked at
    queued: Mapped[int] = mapped_column(Integer, default=0)  # notices put in the outbox
    already_sent: Mapped[int] = mapped_column(Integer, default=0)  # due but sent before
    unbound: Mapped[int] = mapped_column(Integer, default=0)  # subscribers with no bound phone
    errors: Mapped[int] = mapped_column(Integer, default=0)  # customers the bank could not answer
    by_service: Mapped[dict] = mapped_column(JSON, default=dict)  # service -> queued
    error: Mapped[str | None] = mapped_column(String(200))


class SubscriptionNotice(Base):
    __tablename__ = "subscription_notices"
    __table_args__ = (Index("ix_subscription_notices_service_created_at", "service", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of customer, service, channel and period: the once-only guarantee.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(64))  # readable, card numbers masked
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscription_runs.id", ondelete="SET NULL")
    )
    sms_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
