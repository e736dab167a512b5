"""WeChat channel tables: inbound dedupe with the answer's delivery state, followers,
the shared access token, and outbound messages (customer-service and template sends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class InboundState:
    """How one callback message's answer travels (see ``channels/wechat/service.py``)."""

    ANSWERING = "answering"  # the answer is being computed
    READY = "ready"  # computed, not yet delivered
    PASSIVE = "passive"  # delivered as the passive reply to a callback request
    DEFERRED = "deferred"  # the budget ran out: the answer goes through custom-send
    SENT = "sent"  # delivered through custom-send
    SILENT = "silent"  # nothing to say (e.g. a human owns the conversation)
    FAILED = "failed"
    # Claimed by the recovery (``channels/wechat/recovery.py``): the process answering it died
    # (or took far longer than WeChat waits); the answer goes out through custom-send.
    RECOVERING = "recovering"


class WechatInbound(Base):
    """Every callback message once: WeChat re-sends a message three times when no answer
    comes within five seconds, so the key below is unique and the answer is stored with it."""

    __tablename__ = "wechat_inbound"
    __table_args__ = (
        UniqueConstraint("account", "dedupe_key", name="uq_wechat_inbound_account_dedupe_key"),
        # The recovery's look for rows a dead process left (state, then the oldest).
        Index("ix_wechat_inbound_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    # MsgId for messages; FromUserName + CreateTime for events (they carry no MsgId).
    dedupe_key: Mapped[str] = mapped_column(String(128))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    msg_type: Mapped[str] = mapped_column(String(16))
    event: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(String(2048), default="")
    # What the columns above do not hold of the message (event key, menu item, media, place)
    # and the callback's base URL: enough for the recovery to answer it as the callback would.
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=InboundState.ANSWERING)
    # The rendered answer: one WeChat message, {"type": "text"|"news", ...}.
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)  # WeChat's tries seen
    error: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WechatFollower(Base):
    """A user who follows (or followed) one official account. Openids are per account."""

    __tablename__ = "wechat_followers"
    __table_args__ = (
        UniqueConstraint("account", "openid", name="uq_wechat_followers_account_openid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    scene: Mapped[str | None] = mapped_column(String(64))  # QR scene the follow came through
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # WeChat's customer-service window: 48 hours from the follower's last interaction.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WechatAccessToken(Base):
    """One access token per AppID, shared by every kefu process: WeChat allows 2,000 token
    fetches a day and a new token retires the old one, so processes must not each fetch.
    ``refreshing_until`` is the lease a process holds while it fetches."""

    __tablename__ = "wechat_access_tokens"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(512), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched: Mapped[int] = mapped_column(Integer, default=0)


class WechatOutbound(TimestampMixin, Base):
    """Every message kefu sends through WeChat's API, with WeChat's answer."""

    __tablename__ = "wechat_outbound"
    __table_args__ = (Index("ix_wechat_outbound_account_openid", "account", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # custom, template, sms (a fallback)
    purpose: Mapped[str] = mapped_column(String(32))  # answer, agent_reply, bill_ready, …
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    errcode: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    wechat_msgid: Mapped[str | None] = mapped_column(String(32))
    # The outbound this one replaces (a template or SMS sent because custom-send was refused).
    fallback_of: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
