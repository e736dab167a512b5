"""The message contract between channels and the rest of kefu.

``InboundMessage`` / ``OutboundMessage`` are what a channel adapter produces and consumes;
``Turn`` / ``Reply`` are what the pipeline gives the self-service layer (the assistant) and
gets back. Nothing here knows a wire protocol or a bank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kefu.db.base import utcnow


@dataclass(frozen=True)
class Media:
    kind: str  # image, voice, video, file, location
    url: str | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One customer message as every channel hands it in."""

    channel: str  # kefu.vocabulary.Channel value
    account: str  # which of the bank's accounts/sites/numbers received it
    sender: str  # the address on that channel: phone number, openid, web visitor id, …
    text: str
    identity_kind: str = "phone"  # kefu.vocabulary.IdentityKind value for ``sender``
    media: tuple[Media, ...] = ()
    reply_to: str | None = None  # the channel's id of the message this answers, if any
    external_id: str | None = None  # the channel's own id (dedupe is the channel's, by it)
    customer_no: str | None = None  # set when the channel itself proved who it is (web sign-in)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Choice:
    """One answer a customer may tap. ``id`` is the answer itself: a channel that shows taps
    hands the tapped id back as the customer's text, and the message's text asks customers of
    the other channels to type it ("回复1-5")."""

    id: str
    label: str


@dataclass(frozen=True)
class Choices:
    """A question with answers to tap (a CSAT survey's 1–5): WeChat shows them as a menu
    message (msgmenu, 菜单消息), text channels send the message's text alone."""

    head: str
    options: tuple[Choice, ...]
    tail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"head": self.head, "tail": self.tail,
                "options": [{"id": c.id, "label": c.label} for c in self.options]}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Choices:
        options = tuple(Choice(str(o["id"]), str(o["label"])) for o in data.get("options", ()))
        return cls(str(data.get("head", "")), options, str(data.get("tail", "")))


@dataclass(frozen=True)
class OutboundMessage:
    """One message to a customer: a bot answer, an agent's reply or a notification."""

    channel: str
    account: str
    to: str
    text: str
    sender: str = "bot"  # kefu.vocabulary.SenderType value
    data: Mapping[str, Any] | None = None  # structured facts a rich channel renders as a card
    choices: Choices | None = None  # answers to tap, where the channel can show them
    reply_to: str | None = None
    kind: str = "reply"  # reply, notice, otp
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """What the pipeline gives the self-service layer."""

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
    """What the self-service layer answers."""

    texts: list[str]
    intent: str
    notifications: list[Notification] = field(default_factory=list)
    conversation_id: int | None = None  # set when the customer was handed to an agent
    # Structured facts a rich channel renders (e.g. cards: {"month": "2026-03"}); SMS ignores it.
    data: dict[str, Any] | None = None
    # False when the message was not understood (no command, no knowledge answer): the
    # hybrid policy counts these towards a hand-off. A flag, never a comparison of texts.
    understood: bool = True


def tap_text(label: str) -> str:
    """A menu tap as a customer message reads on the desk: the label the customer tapped."""
    return f"「菜单：{label}」"
