"""The social store: every post the bank receives or captures (one row per platform post,
with its analysis) and the listening rules (舆情监测 keyword subscriptions).

A post is unique by (platform, external_id): adapters re-deliver, pollers overlap pages, and
webhooks retry, so the unique constraint is what makes ingest idempotent under races.
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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow

# Kinds of post: addressed to the bank (mention, comment, dm) or captured by listening.
KINDS = ("mention", "comment", "dm", "listening")
ADDRESSED_KINDS = ("mention", "comment", "dm")
# States: queued (in the service queue), listening (captured, nobody decided yet), engaged
# (someone opened a conversation from it), ignored, spam (filtered, never queued), private (a
# 私信 the ordinary pipeline answers: stored so reports and the crisis desk count it).
STATES = ("queued", "listening", "engaged", "ignored", "spam", "private")


class SocialPost(Base):
    __tablename__ = "social_posts"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_social_posts_platform_external_id"),
        Index("ix_social_posts_state_received_at", "state", "received_at"),
        Index("ix_social_posts_platform_author_uid", "platform", "author_uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64), default="")  # bank account / source name
    external_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    parent_external_id: Mapped[str | None] = mapped_column(String(128))
    author_uid: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(128), default="")
    author_followers: Mapped[int] = mapped_column(Integer, default=0)
    author_verified_type: Mapped[int] = mapped_column(Integer, default=-1)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(500), default="")
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The analysis (kefu.social.analysis.PostAnalysis), stored on arrival.
    sentiment: Mapped[float] = mapped_column(Float, default=0.0)
    sentiment_label: Mapped[str] = mapped_column(String(16), default="neutral")
    emotion: Mapped[str] = mapped_column(String(16), default="neutral")
    emotion_score: Mapped[float] = mapped_column(Float, default=0.0)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    intent: Mapped[str | None] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(64), default="")
    spam: Mapped[bool] = mapped_column(Boolean, default=False)
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)  # crisis words, negative
    influence: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    captured_by: Mapped[int | None] = mapped_column(
        ForeignKey("social_listening_rules.id", ondelete="SET NULL"), index=True
    )


class ListeningRule(Base):
    """A keyword subscription: a post is captured when it contains any include term, none of
    the exclude terms, and comes from one of the platforms (all platforms when empty)."""

    __tablename__ = "social_listening_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    include_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    exclude_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SocialReport(Base):
    """A saved custom report (kefu.social.reports.Spec as JSON): its owner's, or shared with
    everyone who reads reports."""

    __tablename__ = "social_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    owner: Mapped[str] = mapped_column(String(64), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
