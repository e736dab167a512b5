"""Behaviour analytics' tables in kefu's own database (migration 0035): session-replay chunks,
the analysts' topics (专题) and the failing-version alerts already sent.

Replays live here, not in the event store: the event store is a columnar file one process
holds (DuckDB), made for scans of narrow columns, while a replay is an opaque compressed blob
read whole, one session at a time. kefu's database is shared by every app process (PostgreSQL),
backed up with the rest, refuses a duplicate chunk by its unique key in one statement, and
forgets old replays with one DELETE by time (``kefu analytics retention``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow


class ReplayChunk(Base):
    """One upload of rrweb events of one session, gzip-compressed JSON (inputs masked and
    private elements blocked in the browser before it was sent)."""

    __tablename__ = "analytics_replay_chunks"
    __table_args__ = (
        UniqueConstraint("site", "session_id", "seq", name="uq_analytics_replay_chunks_seq"),
        Index("ix_analytics_replay_chunks_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    visitor_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)  # the chunk's number within the session
    first_ts: Mapped[datetime] = mapped_column(UTCDateTime())  # its first rrweb event
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    events: Mapped[int] = mapped_column(Integer)
    raw_bytes: Mapped[int] = mapped_column(Integer)  # JSON size before compression
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Topic(Base):
    """A saved analysis over a set of pages (URL paths or prefixes ending in ``*``) and event
    names: its own sources and behaviour views are the standard analyses filtered to them."""

    __tablename__ = "analytics_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    pages: Mapped[list] = mapped_column(JSON, default=list)
    events: Mapped[list] = mapped_column(JSON, default=list)  # custom event names
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FailureAlert(Base):
    """A page found failing on a browser or OS version, alerted once (in-app on /analytics,
    and to webhook subscribers of ``analytics.failing_version``)."""

    __tablename__ = "analytics_failure_alerts"
    __table_args__ = (
        UniqueConstraint("site", "page", "by", "name", "version",
                         name="uq_analytics_failure_alerts_key"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    page: Mapped[str] = mapped_column(String(500))
    by: Mapped[str] = mapped_column(String(8))  # browser | os
    name: Mapped[str] = mapped_column(String(64))  # Chrome, iOS …
    version: Mapped[str] = mapped_column(String(32))
    rate: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    sessions: Mapped[int] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
