from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class Customer(TimestampMixin, Base):
    """A bank customer known to the service centre.

    Holds only the key into the bank's systems of record (``bank_customer_no``) and service
    attributes; names, cards and balances are read through the bank port, never copied here.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_customer_no: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    region: Mapped[str | None] = mapped_column(String(32))

    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )


class ChannelIdentity(Base):
    """A phone number, WeChat openid or Weibo uid bound to exactly one customer."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_channel_identities_kind_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    # Indexed for "the phones of these customers" (the subscription scheduler, per page).
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")
