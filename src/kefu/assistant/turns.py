"""What a channel gives the assistant and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Turn:
    channel: str  # kefu.vocabulary.Channel value
    contact: str  # the address on that channel: phone number, openid, …
    text: str
    today: date
    identity_kind: str = "phone"


@dataclass(frozen=True)
class Notification:
    """A message to another address or channel (e.g. a one-time code to the registered mobile)."""

    channel: str
    to: str
    text: str


@dataclass
class Reply:
    texts: list[str]
    intent: str
    notifications: list[Notification] = field(default_factory=list)
    conversation_id: int | None = None  # set when the customer was handed to an agent
    # Structured facts a rich channel renders (e.g. WeChat cards: {"month": "2026-03"});
    # SMS ignores it.
    data: dict[str, Any] | None = None
