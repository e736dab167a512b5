"""A web chat session (one visitor on one site) and its transcript, both directions.

``seq`` numbers a session's messages 1, 2, 3…: the session row's ``last_seq`` is raised in the
transaction that stores a message, so two writers to one session queue on that row and a
message is never visible before one with a lower number (a client reading ``after=N`` misses
nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow


class WebchatSession(Base):
    __tablename__ = "webchat_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, in the URLs
    site: Mapped[str] = mapped_column(String(32), index=True)
    # The address the pipeline knows the visitor by: "c:<customer no>" when signed in at the
    # bank's site, else "v:<session id>".
    address: Mapped[str] = mapped_column(String(128), index=True)
    customer_no: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    origin: Mapped[str | None] = mapped_column(String(200))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    read_upto: Mapped[int] = mapped_column(Integer, default=0)  # customer messages read
    conversation_id: Mapped[int | None] = mapped_column(Integer)  # handed to an agent
    csat_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebchatMessage(Base):
    __tablename__ = "webchat_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_webchat_messages_session_seq"),
        UniqueConstraint("session_id", "client_id", name="uq_webchat_messages_session_client"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("webchat_sessions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(4))  # kefu.vocabulary.Direction
    sender: Mapped[str] = mapped_column(String(16))  # kefu.vocabulary.SenderType
    text: Mapped[str] = mapped_column(Text)
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quick_replies: Mapped[list[str]] = mapped_column(JSON, default=list)
    client_id: Mapped[str | None] = mapped_column(String(64))  # the widget's, for retries
    # Inbound: received → answered (or failed after ANSWER_TRIES); outbound: sent.
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # An agent's reply: the conversation message it came from (relayed once).
    source_message_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
