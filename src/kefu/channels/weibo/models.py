"""Weibo channel tables: the account's OAuth2 token, the polling checkpoints, every item
received once (posts, comments, 私信, events), and every reply sent with Weibo's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class TokenStatus:
    MISSING = "missing"  # never authorised: an admin must authorise the application
    OK = "ok"
    EXPIRED = "expired"  # Weibo said 21327 or the expiry passed: authorise again
    INVALID = "invalid"  # 21332 and kin: authorise again


class WeiboToken(Base):
    """The account's access token. Weibo gives web applications no refresh token: when it
    expires, polling and sending wait (the status says why) until an admin authorises again."""

    __tablename__ = "weibo_tokens"

    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    uid: Mapped[str] = mapped_column(String(24), default="")
    access_token: Mapped[str] = mapped_column(String(256), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=TokenStatus.MISSING)
    detail: Mapped[str] = mapped_column(String(200), default="")
    authorised_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WeiboCheckpoint(Base):
    """Where one stream of one account has been read up to. ``since_id``: every item up to it
    is stored. While a catch-up pages backwards (newest first, ``max_id`` down), ``catchup_top``
    is the newest id of the catch-up and ``catchup_max_id`` the next page's max_id; both are
    stored with each page's items, so a crash resumes the catch-up instead of losing its rest."""

    __tablename__ = "weibo_checkpoints"

    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    since_id: Mapped[str] = mapped_column(String(24), default="0")
    catchup_top: Mapped[str | None] = mapped_column(String(24))
    catchup_max_id: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default="idle")  # idle, ok, waiting, error
    detail: Mapped[str] = mapped_column(String(200), default="")
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReceivedState:
    STORED = "stored"  # kept, not yet handed to the pipeline
    HANDLED = "handled"  # the pipeline took it (a route, a hand-off or the bot's answer)
    RECORDED = "recorded"  # kept only (events, deleted posts): nothing to hand on
    FAILED = "failed"


class WeiboReceived(Base):
    """Everything received once: the platform and its polling repeat themselves (a crash
    replays a page, the 私信 push retries), so (account, kind, external id) is unique.
    Kinds: ``mention`` (a post that @s the account), ``comment`` (a comment that @s it, or on its
    posts, or a reply to its comments), ``dm`` (私信), ``event`` (follow, unfollow)."""

    __tablename__ = "weibo_received"
    __table_args__ = (
        UniqueConstraint("account", "kind", "external_id", name="uq_weibo_received_item"),
        Index("ix_weibo_received_account_sender", "account", "sender_uid"),
        Index("ix_weibo_received_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    # The status or comment id; for a 私信 (no id on the wire) a digest of sender, time, text.
    external_id: Mapped[str] = mapped_column(String(64))
    sender_uid: Mapped[str] = mapped_column(String(24), default="")
    sender_name: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    status_id: Mapped[str | None] = mapped_column(String(24))  # the post a comment is on
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=ReceivedState.STORED)
    conversation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    error: Mapped[str | None] = mapped_column(String(200))
    tries: Mapped[int] = mapped_column(Integer, default=0)  # hand-offs that failed
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutState:
    ACCEPTED = "accepted"  # recorded, to be sent (also: waiting for a token or the rate limit)
    SENDING = "sending"  # a worker holds it until ``lease_until``
    UNKNOWN = "unknown"  # the call's answer was lost (timeout): verify before sending again
    SENT = "sent"
    FAILED = "failed"


class WeiboOutbound(TimestampMixin, Base):
    """Every reply kefu sends, recorded before the call (exactly once: a reply whose answer was
    lost is verified on Weibo before it is sent again)."""

    __tablename__ = "weibo_outbound"
    __table_args__ = (Index("ix_weibo_outbound_state_next", "state", "next_try_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    message_id: Mapped[int | None] = mapped_column(Integer)  # the conversation message, if any
    mode: Mapped[str] = mapped_column(String(8))  # comment, dm
    receiver_uid: Mapped[str] = mapped_column(String(24), default="")
    status_id: Mapped[str | None] = mapped_column(String(24))
    comment_id: Mapped[str | None] = mapped_column(String(24))  # replying to this comment
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=OutState.ACCEPTED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    weibo_id: Mapped[str | None] = mapped_column(String(24))  # the comment Weibo created
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
