"""The outbound SMS rules as configuration (``KEFU_SMS_POLICY``, ``[sms_policy]`` in kefu.toml).

Pure pydantic, so ``kefu.config`` can import it without pulling in the database layer.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

# The kinds an API caller may send. "reply" (an agent's answer in a conversation) and the
# assistant's answers do not pass the policy: they answer the customer's own text.
SendKind = Literal["notification", "marketing", "otp"]
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class Caps(BaseModel):
    """How many messages of one kind one number may receive; ``None`` is no cap."""

    model_config = {"extra": "forbid"}

    per_day: int | None = Field(default=None, ge=1, le=1000)
    per_week: int | None = Field(default=None, ge=1, le=5000)


class SmsPolicySettings(BaseModel):
    model_config = {"extra": "forbid"}

    timezone: str = Field(
        default="Asia/Shanghai", description="Where quiet hours and 'a day' are reckoned."
    )
    send_hours: dict[SendKind, str] = Field(
        default_factory=lambda: {"marketing": "08:00-22:00"},
        description="Per kind, the local hours in which it may be sent (HH:MM-HH:MM); a kind "
        "not listed may be sent at any hour.",
    )
    consent_kinds: list[SendKind] = Field(
        default_factory=lambda: ["marketing"],
        description="Kinds sent only to numbers with a recorded, unwithdrawn consent.",
    )
    opt_out_kinds: list[SendKind] = Field(
        default_factory=lambda: ["marketing"],
        description="Kinds never sent to a number that replied TD/T/R/退订.",
    )
    opt_out_hint: str = Field(
        default="拒收请回复R", max_length=20, description="Appended to every marketing text."
    )
    caps: dict[SendKind, Caps] = Field(
        default_factory=lambda: {
            "marketing": Caps(per_day=1, per_week=3),
            "notification": Caps(per_day=20),
        },
        description="Per kind, how many messages one number may receive per China day and "
        "per rolling 7 days (counted from the outbox; failed sends do not count).",
    )
    free_text_kinds: list[SendKind] = Field(
        default_factory=lambda: ["notification", "otp"],
        description="Kinds the bank's own keys may send as free text; every other kind, and "
        "every partner message, needs an approved template.",
    )
    max_segments: int = Field(
        default=5, ge=1, le=10, description="Longest text, with signature and hint, in segments."
    )
    max_variable_length: int = Field(default=64, ge=1, le=500)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("send_hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, window in value.items():
            match = _HOURS.match(window)
            if not match or window[:5] >= window[6:]:
                raise ValueError(f"{kind}: hours must read HH:MM-HH:MM, start before end")
        return value

    def window(self, kind: str) -> tuple[time, time | None] | None:
        """The allowed local hours of ``kind`` (end ``None`` means midnight), or None."""
        spec = self.send_hours.get(kind)  # type: ignore[call-overload]
        if spec is None:
            return None
        start, end = spec.split("-")
        return time.fromisoformat(start), None if end == "24:00" else time.fromisoformat(end)
