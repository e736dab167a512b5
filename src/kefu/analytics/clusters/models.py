"""Clustering runs (migration 0036): what an analyst asked for, how far it got, the clusters
found (labels, sizes, trends, bank profiles, as JSON: read whole, never queried inside) and
each customer's cluster, so export and save-as-segment take exactly the list the page showed.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow


class ClusterRun(Base):
    __tablename__ = "analytics_cluster_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    since: Mapped[date] = mapped_column(Date)
    until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, done, failed
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    step: Mapped[str] = mapped_column(String(80), default="")  # what it is doing, in words
    k: Mapped[int] = mapped_column(Integer, default=0)
    silhouette: Mapped[float | None] = mapped_column(Float, nullable=True)
    stability: Mapped[float | None] = mapped_column(Float, nullable=True)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ClusterMember(Base):
    """One clustered customer: the hash the events carry, and the customer number when the
    server could resolve it (only those can be exported)."""

    __tablename__ = "analytics_cluster_members"
    __table_args__ = (Index("ix_analytics_cluster_members_run_cluster", "run_id", "cluster"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analytics_cluster_runs.id", ondelete="CASCADE"))
    cluster: Mapped[int] = mapped_column(Integer)
    customer_hash: Mapped[str] = mapped_column(String(64))
    customer_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
