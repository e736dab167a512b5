from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow


class DialogSession(Base):
    """What the assistant waits for from one address (a missing month, a code, …).

    Kept in the database, not in memory, so any process can take the customer's next message.
    """

    __tablename__ = "dialog_sessions"
    __table_args__ = (
        UniqueConstraint("channel", "contact", name="uq_dialog_sessions_channel_contact"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(String(128))
    awaiting: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
