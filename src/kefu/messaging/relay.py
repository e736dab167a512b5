"""Agents' replies leave through the message contract: a channel asks for the replies waiting
for it as :class:`OutboundMessage` and records what became of each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.messaging.contract import Choices, OutboundMessage
from kefu.vocabulary import DeliveryState, Direction, SenderType


@dataclass(frozen=True)
class PendingReply:
    message_id: int  # the conversation message (kefu.conversations) it came from
    conversation_id: int
    outbound: OutboundMessage


async def pending_replies(db: AsyncSession, channel: str, limit: int) -> list[PendingReply]:
    """``channel``'s agent replies accepted and not yet handed to it, oldest first."""
    rows = await db.execute(
        select(Message, Conversation.contact, Agent.display_name)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Agent, Agent.id == Message.sender_agent_id)
        .where(
            Message.channel == channel,
            Message.direction == Direction.OUTBOUND.value,
            Message.delivery_state == DeliveryState.ACCEPTED.value,
            Message.external_id.is_(None),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [
        PendingReply(
            message.id,
            message.conversation_id,
            OutboundMessage(
                channel=channel,
                account="",
                to=contact or "",
                text=message.body,
                sender=message.sender_type or SenderType.AGENT.value,
                choices=Choices.from_json(message.choices) if message.choices else None,
                # reply_mode: how the agent chose to send it (Weibo: comment or 私信), if chosen.
                metadata={"agent": agent_name or ""}
                | ({"reply_mode": message.reply_mode} if message.reply_mode else {}),
            ),
        )  # fmt: skip
        for message, contact, agent_name in rows.all()
    ]


async def mark_handed(
    db: AsyncSession,
    message_id: int,
    *,
    external_id: str | None,
    state: str,
    error: str | None = None,
) -> None:
    """Records what the channel did with the reply: its own id for it (``external_id``; None
    when it could not take it) and the delivery state."""
    await db.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(external_id=external_id, delivery_state=state, delivery_error=error)
    )
