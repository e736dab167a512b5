"""The human side of the hybrid policy: who owns a conversation, joining it, queue places."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.routing import intake
from kefu.routing.models import RoutingTask, TaskState
from kefu.vocabulary import ConversationStatus, DeliveryState, Direction, SenderType
from kefu.webhooks import service as webhooks

HUMAN_STATES = (TaskState.WAITING, TaskState.RESERVED, TaskState.ASSIGNED)


async def human_owned(
    db: AsyncSession, channel: str, address: str
) -> tuple[Conversation, RoutingTask] | None:
    """The open conversation of ``address`` that a human holds or is about to (waiting in a
    queue, offered, assigned), with its routing task."""
    row = (
        await db.execute(
            select(Conversation, RoutingTask)
            .join(RoutingTask, RoutingTask.conversation_id == Conversation.id)
            .where(
                Conversation.channel == channel,
                Conversation.contact == address,
                Conversation.status != ConversationStatus.CLOSED.value,
                RoutingTask.state.in_(HUMAN_STATES),
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def add_customer_message(
    db: AsyncSession, conversation: Conversation, text: str, *, external_id: str | None = None
) -> Message:
    """The customer's message joins their conversation (the agent sees it in the inbox)."""
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        direction=Direction.INBOUND.value,
        sender_type=SenderType.CUSTOMER.value,
        body=text,
        delivery_state=DeliveryState.RECEIVED.value,
        external_id=external_id,
    )
    db.add(message)
    conversation.updated_at = utcnow()
    if conversation.status == ConversationStatus.PENDING.value:
        conversation.status = ConversationStatus.OPEN.value  # the customer answered
    await db.flush()
    await webhooks.emit(db, event="message.created", payload=intake.message_payload(message))
    return message


async def queue_position(db: AsyncSession, task: RoutingTask | None) -> int | None:
    """1-based place of a waiting task in its queue (higher priority first, then oldest)."""
    if task is None or task.state != TaskState.WAITING:
        return None
    ahead = await db.scalar(
        select(func.count())
        .select_from(RoutingTask)
        .where(
            RoutingTask.queue == task.queue,
            RoutingTask.state == TaskState.WAITING,
            RoutingTask.conversation_id != task.conversation_id,
            or_(
                RoutingTask.priority > task.priority,
                (RoutingTask.priority == task.priority)
                & (RoutingTask.enqueued_at <= task.enqueued_at),
            ),
        )
    )
    return int(ahead or 0) + 1


@dataclass(frozen=True)
class HandoffStatus:
    """Where a customer's conversation with the service centre stands (for channels that
    show it: web chat's queue banner and "agent X is serving you")."""

    conversation_id: int | None = None
    handed_off: bool = False  # waiting for or talking with an agent
    queue_position: int | None = None
    agent: str | None = None  # the assigned agent's display name
    closed: bool = False  # the conversation was closed by the service centre


async def status(db: AsyncSession, conversation_id: int | None) -> HandoffStatus:
    if conversation_id is None:
        return HandoffStatus()
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        return HandoffStatus()
    if conversation.status == ConversationStatus.CLOSED.value:
        return HandoffStatus(conversation_id, closed=True)
    task = await db.get(RoutingTask, conversation_id)
    agent = None
    if conversation.assigned_agent_id is not None:
        agent = await db.scalar(
            select(Agent.display_name).where(Agent.id == conversation.assigned_agent_id)
        )
    live = task is not None and task.state in HUMAN_STATES
    return HandoffStatus(
        conversation_id,
        handed_off=live,
        queue_position=await queue_position(db, task) if live else None,
        agent=agent if live and task is not None and task.state == TaskState.ASSIGNED else None,
    )
