"""Knowledge-base tables: entries, their versions, and the gaps customers reveal.

An entry (FAQ or article) is a stable identity with a workflow status; everything an editor
writes lives in numbered, immutable versions, so the diff between any two versions and who
approved which one are always available. ``published_version`` names the version customers
are answered from: editing a published entry starts a new draft while the approved text keeps
answering until the new version is approved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow


class KnowledgeEntry(TimestampMixin, Base):
    __tablename__ = "kb_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # EntryKind
    status: Mapped[str] = mapped_column(String(16), index=True)  # EntryStatus of the latest version
    # Denormalised from the latest version so lists and filters need no join.
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(64), default="", index=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(80))
    # Every change bumps it: search indexes in other processes catch up from it.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, index=True
    )

    versions: Mapped[list[KnowledgeVersion]] = relationship(
        back_populates="entry", order_by="KnowledgeVersion.number", cascade="all, delete-orphan"
    )


class KnowledgeVersion(TimestampMixin, Base):
    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("entry_id", "number", name="uq_kb_versions_entry_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(String(300))  # the standard question, or article title
    paraphrases: Mapped[list] = mapped_column(JSON, default=list)  # similar questions
    answer_sms: Mapped[str] = mapped_column(Text, default="")  # ≤ 2 SMS segments
    answer_wechat: Mapped[str] = mapped_column(Text, default="")  # rich text, links, images
    answer_agent: Mapped[str] = mapped_column(Text, default="")  # long form for agents
    internal_note: Mapped[str] = mapped_column(Text, default="")  # agents only, never customers
    body: Mapped[str] = mapped_column(Text, default="")  # articles
    attachments: Mapped[list] = mapped_column(JSON, default=list)  # [{"name", "url"}]
    category: Mapped[str] = mapped_column(String(64), default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    products: Mapped[list] = mapped_column(JSON, default=list)
    regions: Mapped[list] = mapped_column(JSON, default=list)  # empty: everywhere
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime())  # scheduled publishing
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    entry: Mapped[KnowledgeEntry] = relationship(back_populates="versions")


class KnowledgeGap(TimestampMixin, Base):
    """A question the knowledge base failed: no answer found, or an answer rated unhelpful."""

    __tablename__ = "kb_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # GapKind
    question: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_entries.id", ondelete="SET NULL"), index=True
    )
    score: Mapped[float | None] = mapped_column(Float)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
