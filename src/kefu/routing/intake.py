"""Hand-off into routing: a conversation with its first customer message, queued.

Channels (later issues) and the JSON API call this when self-service does not finish; the
understanding layer's results (intent, sentiment, keywords, crisis) arrive as attributes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation, Message
from kefu.identity.models import ChannelIdentity, Customer
from kefu.privacy import masked_summary
from kefu.routing import service
from kefu.routing.models import RoutingTask
from kefu.vocabulary import DeliveryState, Direction, SenderType
from kefu.webhooks import service as webhooks


async def open_conversation(
    session: AsyncSession,
    *,
    channel: str,
    contact: str,
    text: str,
    now: datetime,
    subject: str = "",
    intent: str | None = None,
    customer_no: str | None = None,
    attributes: dict[str, Any] | None = None,
    actor: str = "system",
) -> tuple[Conversation, RoutingTask]:
    customer = None
    if customer_no:
        customer = await session.scalar(
            select(Customer).where(Customer.bank_customer_no == customer_no)
        )
    if customer is None and contact:
        customer = await session.scalar(
            select(Customer).join(ChannelIdentity).where(ChannelIdentity.value == contact).limit(1)
        )
    conversation = Conversation(
        channel=channel, customer_id=customer.id if customer else None, contact=contact,
        subject=masked_summary(subject, 200) if subject else masked_summary(text, 60), intent=intent, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(conversation)
    await session.flush()
    message = Message(conversation_id=conversation.id, channel=channel, direction=Direction.INBOUND.value,
                      sender_type=SenderType.CUSTOMER.value, body=text, delivery_state=DeliveryState.RECEIVED.value,
                      created_at=now)  # fmt: skip
    session.add(message)
    await session.flush()
    extra = dict(attributes or {})
    task = await service.enqueue(
        session,
        conversation=conversation,
        attributes=service.conversation_attributes(conversation, customer, text, extra),
        now=now,
        actor=actor,
    )
    await webhooks.emit(session, event="message.created", payload=message_payload(message), now=now)
    return conversation, task


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "channel": message.channel,
        "direction": message.direction,
        "sender_type": message.sender_type,
        "body": message.body,
        "delivery_state": message.delivery_state,
    }
