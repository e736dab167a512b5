"""Reports' configuration (``KEFU_REPORTS`` as JSON, ``[reports]`` in kefu.toml;
docs/reports.md). Pure pydantic, so ``kefu.config`` imports it without the database layer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SmtpSettings(BaseModel):
    """Where scheduled reports are e-mailed from. No host: schedules still run and keep
    their exports for download, and say that nothing was sent."""

    model_config = {"extra": "forbid"}

    host: str = ""
    port: int = Field(default=25, ge=1, le=65_535)
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = Field(default="kefu-reports@localhost", max_length=200)
    timeout: float = Field(default=20, gt=0, le=300)


class ReportsSettings(BaseModel):
    model_config = {"extra": "forbid"}

    rollup_interval: float = Field(
        default=60, ge=0, le=3600,
        description="Seconds between the running server's rollup rounds (and agents' presence "
        "samples); 0 turns the background task off (run `kefu reports rollup` instead).",
    )  # fmt: skip
    agent_minute_cost: float = Field(
        default=1.5, ge=0, description="What one agent minute costs (yuan), for saved cost."
    )
    agent_minutes_per_contact: float = Field(
        default=4.0, ge=0,
        description="Agent minutes a contact answered by self-service would have taken.",
    )  # fmt: skip
    message_cost: dict[str, float] = Field(
        default_factory=lambda: {"sms": 0.05, "wechat": 0.0, "webchat": 0.0, "weibo": 0.0},
        description="What one outbound message costs per channel (yuan); missing: 0.",
    )
    row_cap: int = Field(
        default=5000, ge=10, le=1_000_000,
        description="Most rows a report builder answer shows; exports stream up to ten times this.",
    )  # fmt: skip
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
