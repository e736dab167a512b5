"""Quality settings (``KEFU_QUALITY``, ``[quality]`` in kefu.toml; docs/quality.md).

Pure pydantic, so ``kefu.config`` can import it without pulling in the database layer.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class QualitySettings(BaseModel):
    model_config = {"extra": "forbid"}

    interval: float = Field(
        default=30, ge=0, le=3600,
        description="Seconds between the quality worker's rounds (inspect newly closed "
        "conversations, collect web chat ratings, index messages for search); 0 turns it off.",
    )  # fmt: skip
    csat_channels: list[str] = Field(
        default_factory=lambda: ["sms", "wechat"],
        description="Channels whose customers are asked by text to score a closed "
        "conversation (web chat asks with the widget's stars; public social posts are never "
        "asked).",
    )
    csat_question: str = Field(
        default="感谢您的咨询。请回复1-5为本次服务评分（5为非常满意），回复TD退订。",
        min_length=4, max_length=120,
    )  # fmt: skip
    csat_window_hours: float = Field(
        default=24, gt=0, le=168,
        description="Only the customer's next message within this time answers the survey.",
    )  # fmt: skip
    sample_rate: float = Field(
        default=0.1, ge=0, le=1,
        description="Share of inspected conversations sampled for a human review.",
    )  # fmt: skip
    rules_file: str | None = Field(
        default=None, description="A YAML file of inspection rules replacing the packaged ones."
    )
