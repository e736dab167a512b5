"""Agents' replies waiting for their channel to send them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation, Message
from kefu.vocabulary import DeliveryState, Direction


async def replies_to_relay(
    db: AsyncSession, channel: str, limit: int
) -> list[tuple[Message, str | None]]:
    """Outbound messages of ``channel``'s conversations that are accepted and not yet handed to
    the channel (no ``external_id``), oldest first, each with its conversation's contact."""
    rows = await db.execute(
        select(Message, Conversation.contact)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.channel == channel,
            Message.direction == Direction.OUTBOUND.value,
            Message.delivery_state == DeliveryState.ACCEPTED.value,
            Message.external_id.is_(None),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [(message, contact) for message, contact in rows.all()]
