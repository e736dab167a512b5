"""The crisis desk's configuration (``KEFU_CRISIS``, ``[crisis]`` in kefu.toml).

Pure pydantic, so ``kefu.config`` can import it without pulling in the database layer.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

_MOBILE = re.compile(r"^1\d{10}$")


class Contact(BaseModel):
    """Someone alerts go to: a mobile for the SMS, an openid on the bank's own official
    account for the WeChat template (either may be empty)."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=40)
    mobile: str = ""
    openid: str = Field(default="", max_length=64)

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str) -> str:
        if value and not _MOBILE.match(value):
            raise ValueError("a mainland mobile number of 11 digits starting with 1")
        return value


class CrisisSettings(BaseModel):
    model_config = {"extra": "forbid"}

    interval: float = Field(
        default=30, ge=0, le=3600,
        description="Seconds between the worker's runs; 0 turns it off (tests drive it).",
    )  # fmt: skip
    window_seconds: int = Field(
        default=60, ge=10, le=3600, description="The burst detector's time window."
    )
    replay_hours: float = Field(
        default=2, ge=0, le=48,
        description="After a restart the detector re-reads this much of the stream before its "
        "cursor (alerts found again update their rows), so a burst under way is not lost.",
    )  # fmt: skip
    ack_minutes: float = Field(
        default=10, gt=0, le=1440,
        description="An alert nobody acknowledged this long after it was sent goes to the "
        "escalation list.",
    )  # fmt: skip
    on_duty: list[Contact] = Field(
        default_factory=list, description="The on-duty supervisors every new alert goes to."
    )
    escalation: list[Contact] = Field(
        default_factory=list, description="The next level (e.g. the centre head)."
    )
    wechat_account: str | None = Field(
        default=None, description="The official account whose template messages carry alerts."
    )
    wechat_template: str = Field(
        default="crisis_alert", description="The template kind configured on that account."
    )
    desk_url: str = Field(
        default="", max_length=200, description="The desk's address, linked from the notices."
    )
    board_hours: int = Field(
        default=2, ge=1, le=48, description="The topic board covers this many hours."
    )
