"""Behaviour analytics' configuration (``KEFU_ANALYTICS``, ``[analytics]`` in kefu.toml).

Pure pydantic, so ``kefu.config`` can import it without pulling in DuckDB.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Site(BaseModel):
    """A web site or app that sends events. ``origins`` may call the collector from a browser
    (CORS); the key is public (it is in the page) and only names the site."""

    model_config = {"extra": "forbid"}

    key: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(default="", max_length=80)
    origins: list[str] = Field(default_factory=list)
    replay: bool = Field(
        default=False,
        description="Accept session-replay chunks from this site (the page samples sessions "
        "with data-replay on the tracker's script tag).",
    )


class AnalyticsSettings(BaseModel):
    model_config = {"extra": "forbid"}

    store_path: str = Field(
        default="",
        description="The DuckDB file of behaviour events; ':memory:' keeps them in memory; "
        "empty: beside the SQLite database (<db>.analytics.duckdb), or "
        "var/analytics-<database name>.duckdb on PostgreSQL.",
    )
    clickhouse_url: str = Field(
        default="",
        description="ClickHouse instead of the DuckDB file (scale-out): "
        "clickhouse://user:password@host:8123/database; needs the clickhouse extra "
        "(pip install 'kefu[clickhouse]').",
    )
    sites: list[Site] = Field(
        default_factory=lambda: [Site(key="demo-bank", name="演示银行网站", replay=True)],
        description="Sites that may send events (their keys are public, in each page).",
    )
    customer_hash_key: str = Field(
        default="",
        description="Key of the HMAC that replaces customer numbers at the collector; empty: "
        "derived from KEFU_SECRET_KEY.",
    )
    queue_events: int = Field(default=200_000, ge=100, description="Events waiting to be "
                              "written before the collector answers 503.")  # fmt: skip
    batch_events: int = Field(default=5_000, ge=1, le=1_000_000)
    flush_seconds: float = Field(default=1.0, gt=0, le=60)
    max_events_per_request: int = Field(default=200, ge=1, le=10_000)
    clock_skew_seconds: int = Field(
        default=300, ge=0, description="How far in the future an event's time may be."
    )
    max_age_hours: int = Field(
        default=24, ge=1, le=24 * 7,
        description="Older events are refused (the offline queue's limit; also bounds the "
        "window in which a replayed event id must be remembered).",
    )  # fmt: skip
    region_file: str = Field(
        default="",
        description="IPv4 → region table (scripts/build_region_db.py, from DB-IP Lite, "
        "CC BY 4.0); empty: var/ip-region-ipv4.tsv.gz when it was built, else no regions.",
    )
    retention_days: int = Field(default=400, ge=1)
    replay_chunk_bytes: int = Field(
        default=900_000, ge=10_000, description="Largest replay upload (JSON bytes); the "
        "recorder sends every 10 s or at 256 KB, and a page's first snapshot in one piece.",
    )  # fmt: skip
    replay_session_bytes: int = Field(
        default=20_000_000, ge=100_000,
        description="Replay JSON kept per session at most (later chunks are refused).",
    )  # fmt: skip
    alert_check_seconds: float = Field(
        default=300, gt=0, description="How often pages failing on a browser/OS version are "
        "looked for (then alerted once, by webhook event analytics.failing_version).",
    )  # fmt: skip
    replay_retention_days: int = Field(default=30, ge=1, description="Replays older are deleted.")
