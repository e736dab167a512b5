"""Routes: business that takes a message before self-service sees it, registered by the
package that owns it (a partner's sub-code takes the texts dialled to it: kefu.partners).
Channels only describe what they received (``InboundMessage.metadata``: the sub-code dialled,
…); which business answers is decided here, not in the channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.messaging.contract import InboundMessage


@dataclass(frozen=True)
class Routed:
    """A route took the message: nothing more is said to the customer by the pipeline."""

    route: str  # e.g. "partner"
    meta: dict[str, Any] = field(default_factory=dict)  # recorded with the message


class InboundRoute(Protocol):
    async def __call__(self, db: AsyncSession, message: InboundMessage) -> Routed | None:
        """Takes the message (its effects written in ``db``) or returns None."""
        ...
