from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from kefu.vocabulary import ConversationStatus, DeliveryState


class Conversation(TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_priority", "status", "priority"),
        Index("ix_conversations_created_at", "created_at"),  # kefu.reports' hourly rollup
        # … and its re-contacts within 7 days (migration 0053), of unbound callers by number
        Index("ix_conversations_contact_closed_at", "contact", "closed_at"),
        Index("ix_conversations_customer_id_closed_at", "customer_id", "closed_at"),
        Index("ix_conversations_updated_at", "updated_at"),  # … and its check for changed ones
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")  # indexed with closed_at (above)
    )
    # The channel address when the customer is not (yet) identified, e.g. an unbound phone.
    contact: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.OPEN.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str] = mapped_column(String(200), default="")
    intent: Mapped[str | None] = mapped_column(String(32))
    assigned_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(TimestampMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_channel_external_id", "channel", "external_id"),
        Index("ix_messages_created_at", "created_at"),  # kefu.reports' hourly rollup
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(4))
    sender_type: Mapped[str] = mapped_column(String(16))
    sender_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    delivery_state: Mapped[str] = mapped_column(String(16), default=DeliveryState.ACCEPTED.value)
    delivery_error: Mapped[str | None] = mapped_column(String(200))
    # The id the channel gave the message (carrier msg id, WeChat MsgId) for dedupe and receipts.
    external_id: Mapped[str | None] = mapped_column(String(128))
    # How an agent chose to send it where a channel offers a choice (Weibo: "comment" for a
    # public comment reply, "dm" for a 私信); None: the channel's default rule.
    reply_mode: Mapped[str | None] = mapped_column(String(8))
    # Answers the customer may tap (kefu.messaging.contract.Choices.as_json), e.g. a CSAT
    # survey's 1–5; None for plain messages.
    choices: Mapped[dict | None] = mapped_column(JSON)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
