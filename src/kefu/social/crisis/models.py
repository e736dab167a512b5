"""The crisis desk's tables: burst alerts, the worker's cursor, notices sent to supervisors,
batch replies (public statements need a second person's approval) with one row per
conversation answered, and escalation records (升级上报).

Post ids are kept as plain integers (a JSON list, ``post_id`` columns) rather than foreign keys
to ``social_posts``: the posts' migration is a sibling branch of this one, and an alert must
outlive a post an administrator purges.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow

ALERT_STATES = ("open", "acknowledged", "escalated", "closed")
STATEMENT_STATES = ("pending", "approved", "rejected", "sent")
ESCALATION_TEAMS = ("pr", "risk", "legal")


class CrisisAlert(Base):
    """One burst of one term. The same burst seen again (the next run, or a restarted worker
    replaying the stream) updates this row: (term, started_at) is unique."""

    __tablename__ = "crisis_alerts"
    __table_args__ = (UniqueConstraint("term", "started_at", name="uq_crisis_alerts_term_started"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(64), index=True)
    playbook: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())  # stream time
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())  # stream time
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # stream time, latest update
    volume: Mapped[int] = mapped_column(Integer, default=0)
    negativity: Mapped[float] = mapped_column(Float, default=0.0)
    reach: Mapped[float] = mapped_column(Float, default=0.0)
    level: Mapped[int] = mapped_column(Integer, default=1)
    # Other terms most of the burst's posts carry (the detector's ``related``): 盗刷 beside
    # 信用卡; the same crisis named by another of its terms is the same alert.
    related: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # 0: the on-duty list was notified; 1: the escalation list too.
    notice_level: Mapped[int] = mapped_column(Integer, default=0)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # wall clock
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_by: Mapped[str | None] = mapped_column(String(80))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(80))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class CrisisCursor(Base):
    """How far the worker has read the posts (by id) and the stream time it reached."""

    __tablename__ = "crisis_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)
    stream_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CrisisNotice(Base):
    """An alert sent to one person on one channel at one level; unique so a retried run
    sends nothing twice."""

    __tablename__ = "crisis_notices"
    __table_args__ = (
        UniqueConstraint("alert_id", "level", "channel", "address",
                         name="uq_crisis_notices_once"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("crisis_alerts.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # sms, wechat
    recipient: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # queued, pending, sent, failed, skipped
    detail: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CrisisStatement(Base):
    """A batch reply to every post of a topic, public (comment) or private (私信). A public
    one under a playbook that says so waits for a second person's approval."""

    __tablename__ = "crisis_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The form's one-time key: a double click submits the same key and finds this row.
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    term: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("crisis_alerts.id", ondelete="SET NULL")
    )
    playbook: Mapped[str] = mapped_column(String(64), default="")
    mode: Mapped[str] = mapped_column(String(16))  # comment (public) or dm (私信)
    body: Mapped[str] = mapped_column(Text)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(80))
    created_by_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class CrisisReply(Base):
    """One reply of a statement: at most one per conversation, whatever is retried."""

    __tablename__ = "crisis_replies"
    __table_args__ = (
        UniqueConstraint("statement_id", "conversation_id", name="uq_crisis_replies_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("crisis_statements.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(Integer)


class CrisisEscalation(Base):
    """升级上报: a topic handed to PR, risk or legal with a note; its outcome recorded later."""

    __tablename__ = "crisis_escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("crisis_alerts.id", ondelete="SET NULL")
    )
    team: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_by: Mapped[str | None] = mapped_column(String(80))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
