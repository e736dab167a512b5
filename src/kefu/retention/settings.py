"""Retention periods per data kind (``KEFU_RETENTION``, ``[retention]`` in kefu.toml;
docs/retention.md). Pure pydantic, so ``kefu.config`` imports it without the database."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetentionSettings(BaseModel):
    model_config = {"extra": "forbid"}

    conversations_days: int = Field(
        default=3 * 365, ge=30, le=36500,
        description="Closed conversations, their messages, notes, CSAT and QA scores are "
        "purged this many days after they closed.",
    )  # fmt: skip
    channel_messages_days: int = Field(
        default=365, ge=7, le=36500,
        description="The channels' own copies of texts (SMS in and out, web chat transcripts, "
        "WeChat inbound) are purged this many days after they were stored.",
    )  # fmt: skip
    social_posts_days: int = Field(
        default=365, ge=7, le=36500,
        description="Listened and received social posts, after they were stored.",
    )  # fmt: skip
    selfservice_turns_days: int = Field(
        default=365, ge=7, le=36500,
        description="Self-service turns (kpi_selfservice_turns: a hashed customer per turn, "
        "the source of containment per session) after they were recorded; the KPI rollup "
        "keeps its hourly sums, which name no one.",
    )  # fmt: skip
    audit_days: int = Field(
        default=6 * 365, ge=365, le=36500,
        description="The audit log is kept longer than what it describes; it is append-only "
        "in the database, so the purge reports what is due and a DBA archives it.",
    )  # fmt: skip
