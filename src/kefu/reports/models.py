"""Report tables: the hourly KPI rollup and what feeds it, saved reports, schedules and the
exports they kept.

``kpi_hourly`` holds sums and counts, never ratios: a ratio over any period and grouping is
then sum(numerator) / sum(denominator) over its rows (docs/reports.md), and re-rolling one
hour replaces that hour's rows whole, so running the rollup again gives the same numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow

# The measure columns of kpi_hourly, in order (kpis.py and the migration use this list).
COUNTS = (
    "conversations",  # conversations opened for agents (created in the hour)
    "messages_in",  # customer messages
    "messages_out",  # replies (agent, bot, system)
    "messages_out_agent",  # replies written by agents
    "selfservice_turns",  # customer messages self-service took (no conversation open)
    "selfservice_answered",  # … and answered without handing off
    "first_responses",  # conversations with an agent's first response
    "sla_due",  # conversations whose first-response clock ended (answered or breached)
    "sla_met",  # … answered within the target
    "abandoned",  # closed (or overflowed) before any agent answered
    "handled",  # closed after an agent took them
    "transfers",  # transfer events
    "escalations",  # escalation events
    "recontacts",  # opened within 7 days of the same customer's previous closed one
    "sentiment_n",  # conversations with a customer message (sentiment measured)
    "selfservice_sessions",  # customers' self-service sessions (counted in their first hour)
    "selfservice_contained",  # … that ended answered and never went to an agent
)
SUMS = (
    "first_response_seconds",
    "handle_seconds",
    "sentiment_start_sum",
    "sentiment_end_sum",
)


class KpiMeasures:
    """The measure columns kpi_hourly and kpi_daily share (COUNTS then SUMS)."""

    conversations: Mapped[int] = mapped_column(Integer, default=0)
    messages_in: Mapped[int] = mapped_column(Integer, default=0)
    messages_out: Mapped[int] = mapped_column(Integer, default=0)
    messages_out_agent: Mapped[int] = mapped_column(Integer, default=0)
    selfservice_turns: Mapped[int] = mapped_column(Integer, default=0)
    selfservice_answered: Mapped[int] = mapped_column(Integer, default=0)
    first_responses: Mapped[int] = mapped_column(Integer, default=0)
    sla_due: Mapped[int] = mapped_column(Integer, default=0)
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    recontacts: Mapped[int] = mapped_column(Integer, default=0)
    sentiment_n: Mapped[int] = mapped_column(Integer, default=0)
    selfservice_sessions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    selfservice_contained: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_response_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    handle_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    sentiment_start_sum: Mapped[float] = mapped_column(Float, default=0.0)
    sentiment_end_sum: Mapped[float] = mapped_column(Float, default=0.0)


class KpiHourly(KpiMeasures, Base):
    """One row per UTC hour × channel × queue × intent × agent (0: none) with any activity,
    and one per hour × channel × queue × intent with agent -1: the sum over agents, which
    reports without an agent read."""

    __tablename__ = "kpi_hourly"
    __table_args__ = (
        UniqueConstraint("hour", "channel", "queue", "intent", "agent_id"),
        Index("ix_kpi_hourly_agent_id_hour", "agent_id", "hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(32), default="")
    intent: Mapped[str] = mapped_column(String(32), default="")
    agent_id: Mapped[int] = mapped_column(Integer, default=0)


class KpiDaily(KpiMeasures, Base):
    """``kpi_hourly`` summed per local day (the bank's zone, 'YYYY-MM-DD'): long periods
    (over ``kefu.reports.daily.LONG``) read a row per day instead of 24 (kefu.reports.daily).
    Same keys and columns; rebuilt from kpi_hourly for every day whose hours were re-rolled."""

    __tablename__ = "kpi_daily"
    __table_args__ = (
        UniqueConstraint("day", "channel", "queue", "intent", "agent_id"),
        Index("ix_kpi_daily_agent_id_day", "agent_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(32), default="")
    intent: Mapped[str] = mapped_column(String(32), default="")
    agent_id: Mapped[int] = mapped_column(Integer, default=0)


class AgentMinute(Base):
    """One sample per agent and minute while signed in (ready, busy or not ready), taken by
    the rollup job: whether they had a conversation in hand. Occupancy = engaged / present
    minutes. Keyed by minute, so a second sampler in the same minute adds nothing."""

    __tablename__ = "kpi_agent_minutes"

    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    engaged: Mapped[bool] = mapped_column(Boolean, default=False)


class SelfServiceTurn(Base):
    """A customer message the pipeline gave to self-service (kefu.messaging.pipeline's hook):
    answered without an agent or not. The containment KPI counts these."""

    __tablename__ = "kpi_selfservice_turns"

    __table_args__ = (Index("ix_kpi_selfservice_turns_customer_at", "customer", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str] = mapped_column(String(32), default="")
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    # The session (kefu.reports.turns): who (a hash of channel and address: no number kept
    # here), when their session began, and whether this turn handed them to an agent. Turns
    # stored before these columns have no customer: each counts as a session of its own.
    customer: Mapped[str] = mapped_column(String(16), default="", server_default="")
    session_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RollupState(Base):
    """How far the rollup has read each source (highest id seen), so a run re-rolls only
    the hours touched since, including old hours a late event landed in."""

    __tablename__ = "kpi_rollup_state"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    # For conversations (closing changes a row without a new id): the newest updated_at seen.
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SavedReport(TimestampMixin, Base):
    """A report builder query (measures × dimensions × filters × period) saved by its owner
    and shared with roles."""

    __tablename__ = "saved_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    owner: Mapped[str] = mapped_column(String(80))  # the username who saved it
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    shared_roles: Mapped[list[str]] = mapped_column(JSON, default=list)


class ReportSchedule(TimestampMixin, Base):
    __tablename__ = "report_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("saved_reports.id", ondelete="CASCADE"), index=True
    )
    frequency: Mapped[str] = mapped_column(String(8))  # daily | weekly | monthly
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    format: Mapped[str] = mapped_column(String(8), default="xlsx")  # csv | xlsx | pdf
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ReportRun(Base):
    """One export a schedule made (or a month's KPI sheet): kept for download whether or
    not the e-mail went out."""

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_schedules.id", ondelete="SET NULL"), index=True
    )
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("saved_reports.id", ondelete="SET NULL")
    )
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    filename: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(80))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    delivery: Mapped[str] = mapped_column(String(200), default="")  # "sent to …" or the error
