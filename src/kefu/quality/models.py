"""Tables of CSAT surveys and answers, QA scores and appeals, and the conversation search
index (the token table lives here with the rest of issue #19's storage; kefu.conversations
.search reads and fills it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow


class CsatSurvey(Base):
    """The question put to the customer when a conversation closed: only the next message
    from the same address on the same channel before ``expires_at`` can answer it."""

    __tablename__ = "csat_surveys"
    __table_args__ = (Index("ix_csat_surveys_address", "channel", "contact", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(String(128))
    # open → answered | refused (the customer's next message was no score) | expired
    state: Mapped[str] = mapped_column(String(16), default="open")
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CsatResponse(Base):
    """One customer's score of one conversation (unique: a second answer counts once)."""

    __tablename__ = "csat_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)  # 1-5
    comment: Mapped[str | None] = mapped_column(String(500))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class QaScore(Base):
    """The automatic inspection of one closed conversation, and its human review if sampled.
    ``score`` is what counts in KPIs: the review's when there is one, else the rules'."""

    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    auto_score: Mapped[float] = mapped_column(Float)  # 0-100 from the rules
    score: Mapped[float] = mapped_column(Float)  # 0-100, the one that counts
    findings: Mapped[list] = mapped_column(JSON, default=list)
    rules_version: Mapped[str] = mapped_column(String(40), default="")
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sampled: Mapped[bool] = mapped_column(default=False)
    review_score: Mapped[float | None] = mapped_column(Float)
    review_form: Mapped[dict | None] = mapped_column(JSON)
    review_note: Mapped[str | None] = mapped_column(String(1000))
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QaAppeal(Base):
    """An agent's appeal of a QA score on their own conversation, decided by a supervisor."""

    __tablename__ = "qa_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    qa_score_id: Mapped[int] = mapped_column(
        ForeignKey("qa_scores.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|upheld|rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(1000))
    new_score: Mapped[float | None] = mapped_column(Float)


class SearchToken(Base):
    """One distinct word of one message (jieba words from kefu.language, lower-cased): the
    portable full-text index of conversation search (kefu.conversations.search says why)."""

    __tablename__ = "search_tokens"
    __table_args__ = (Index("ix_search_tokens_token_message", "token", "message_id"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(32), primary_key=True)


class SearchWordCount(Base):
    """How many postings (``search_tokens`` rows) a word has, kept in the same transaction as
    the postings (``search.index_new``, the reindex, and the retention paths that delete
    messages): a query starts from its rarest word without counting postings at query time."""

    __tablename__ = "search_word_counts"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    postings: Mapped[int] = mapped_column(BigInteger, default=0)


class SearchCursor(Base):
    """The highest message id the search index has read (messages are append-only)."""

    __tablename__ = "search_cursor"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_message_id: Mapped[int] = mapped_column(Integer, default=0)
