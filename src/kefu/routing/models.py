"""Routing tables: workflow versions, workers (capacity), tasks, the event trail.

A conversation's routing state lives in ``routing_tasks`` (one row per conversation) rather
than in new columns on ``conversations``: the conversation stays the channel-facing record and
routing owns its own table, rows and locks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class TaskState:
    WAITING = "waiting"  # in a queue, nobody offered yet (or the offer lapsed)
    RESERVED = "reserved"  # offered to one agent, counting against their capacity
    ASSIGNED = "assigned"  # accepted; Conversation.assigned_agent_id is set
    COMPLETED = "completed"  # conversation closed
    OVERFLOWED = "overflowed"  # queue full: answered with the overflow reply, not queued

    ACTIVE = (RESERVED, ASSIGNED)  # count against capacity


class WorkflowVersion(TimestampMixin, Base):
    """Every saved workflow document; the highest version routes. Rolling back = saving an
    old document again, so the history is never rewritten."""

    __tablename__ = "routing_workflows"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")


class RoutingWorker(Base):
    """Routing's view of an agent: per-channel capacity, and the row locked while a
    reservation is made so that two app processes can never overfill one agent."""

    __tablename__ = "routing_workers"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    capacity: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoutingTask(Base):
    __tablename__ = "routing_tasks"
    __table_args__ = (
        Index("ix_routing_tasks_state_priority", "state", "priority"),
        Index("ix_routing_tasks_agent_id_state", "agent_id", "state"),
    )

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), default=TaskState.WAITING)
    channel: Mapped[str] = mapped_column(String(16))
    workflow_version: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(32))  # where it entered; targets move with time
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The reserved or assigned agent (the one whose capacity the task uses).
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected: Mapped[list[int]] = mapped_column(JSON, default=list)
    # SLA: business seconds are counted from enqueued_at minus the time spent waiting on the
    # customer (status pending), which accumulates in sla_paused_seconds.
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[str | None] = mapped_column(String(32))
    escalated: Mapped[bool] = mapped_column(default=False)
    # Handling data agents add while working the conversation.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    disposition: Mapped[str | None] = mapped_column(String(32))


class RoutingEvent(Base):
    """Each routing step of a conversation: queued, offered, accepted, rejected, expired,
    transferred, escalated, breached, closed. Append-only in practice; also what the live
    inbox listens to."""

    __tablename__ = "routing_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(80), default="system")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
