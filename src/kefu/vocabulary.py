"""Words every package shares: channels, directions, delivery states, roles.

Stored as plain strings (not database enums) so adding a channel needs no schema change.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    WECHAT = "wechat"
    WEIBO = "weibo"
    WEBCHAT = "webchat"
    SOCIAL = "social"  # the generic social webhook: Douyin, Xiaohongshu, forums, app stores


class IdentityKind(StrEnum):
    """How a customer is known on a channel; each value is bound to at most one customer."""

    PHONE = "phone"
    WECHAT_OPENID = "wechat_openid"
    WEIBO_UID = "weibo_uid"
    SOCIAL_UID = "social_uid"  # "<platform>:<user id>" on a generic social source


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class SenderType(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class DeliveryState(StrEnum):
    RECEIVED = "received"  # inbound, stored
    ACCEPTED = "accepted"  # outbound, stored, not yet handed to the channel
    SENT = "sent"  # handed to the carrier / platform
    DELIVERED = "delivered"  # the carrier or platform confirmed delivery
    FAILED = "failed"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    CLOSED = "closed"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    ANALYST = "analyst"
    TELLER = "teller"
    PARTNER = "partner"  # a content partner's API key (kefu.partners): sends SMS only


class Presence(StrEnum):
    ONLINE = "online"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"
