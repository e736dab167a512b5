from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow


class OptOut(Base):
    """An address that refused marketing (TD/T/R/退订). Removed again by DY (subscribe)."""

    __tablename__ = "marketing_optouts"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_marketing_optouts_kind_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
