"""The one inbound pipeline: identify → understand → self-serve → hand-off, for every channel.

The channel has stored and deduplicated the message before it calls :meth:`Pipeline.handle`
(only the channel knows its wire's identity of a delivery: a carrier's message id, WeChat's
MsgId, a widget's client id), and it renders and delivers the :class:`Outcome` afterwards.
Everything between is here, once:

0. A channel that proved who the customer is (a signed token from the bank's web site) has
   the address bound to that customer, so self-service reads their accounts.
1. While a human holds the customer's conversation (waiting, offered or assigned) and the
   channel's policy says so, the bot is silent: the message joins the conversation, and a
   waiting customer is told their place in the queue.
2. Otherwise self-service answers (the assistant behind :class:`SelfService`: it identifies the
   customer from the channel binding, understands the text and runs the bank's dialogs and the
   knowledge base).
3. A hand-off the customer asked for ("转人工", a complaint) is worded with the queue place; a
   message not understood (``Reply.understood`` False) counts towards the policy's limit, and
   reaching it hands the customer to an agent with what was understood of the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.language.analyze import analyze
from kefu.messaging import handoff
from kefu.messaging.contract import InboundMessage, Notification, Reply, Turn, tap_text
from kefu.messaging.models import ContactState
from kefu.messaging.policy import HybridPolicy
from kefu.messaging.routes import InboundRoute, Routed
from kefu.reports.turns import record_turn
from kefu.routing import intake
from kefu.routing.models import RoutingTask, TaskState


class SelfService(Protocol):
    """The assistant as the pipeline sees it (kefu.assistant.engine.Assistant)."""

    async def handle(self, db: AsyncSession, turn: Turn) -> Reply: ...

    async def identify(self, db: AsyncSession, *, kind: str, value: str, customer_no: str) -> bool:
        """Binds the address to the customer the channel proved it is (a web sign-in);
        False when the bank knows no such customer."""
        ...


@dataclass
class Outcome:
    """What the channel renders: the assistant's ``reply`` (rich channels turn its ``data``
    into cards), or ``text`` the pipeline words itself, or nothing (``silent``)."""

    reply: Reply | None = None
    text: str | None = None
    conversation_id: int | None = None  # the customer's conversation with an agent, if any
    queue_position: int | None = None
    handed_off: bool = False
    notifications: list[Notification] = field(default_factory=list)

    @property
    def silent(self) -> bool:
        return self.reply is None and self.text is None

    def texts(self) -> list[str]:
        """The outcome as plain texts (for channels without rich rendering)."""
        if self.text is not None:
            return [self.text]
        return list(self.reply.texts) if self.reply is not None else []


MENU = "menu"  # InboundMessage.metadata key: the label of the menu item the customer tapped


def menu_label(message: InboundMessage) -> str | None:
    """The label of the menu item ``message`` is a tap on; None for a typed message."""
    label = message.metadata.get(MENU)
    return str(label) if label else None


class Pipeline:
    def __init__(
        self,
        selfservice: SelfService,
        *,
        routes: Sequence[InboundRoute] = (),
        today: Callable[[], date] = date.today,
    ) -> None:
        self.selfservice = selfservice
        self.routes = tuple(routes)
        self.today = today

    async def route(self, db: AsyncSession, message: InboundMessage) -> Routed | None:
        """The route that takes ``message`` before self-service (e.g. a partner's sub-code),
        its effects written in ``db``; None: the pipeline answers it (``handle``)."""
        for route in self.routes:
            routed = await route(db, message)
            if routed is not None:
                return routed
        return None

    async def handle(
        self, db: AsyncSession, message: InboundMessage, policy: HybridPolicy
    ) -> Outcome:
        """The outcome of one stored message, its effects (dialogs, conversations, counters)
        written in ``db``; the caller commits."""
        if message.customer_no:
            await self.selfservice.identify(db, kind=message.identity_kind, value=message.sender,
                                            customer_no=message.customer_no)  # fmt: skip
        joined = await self.join_human(db, message, policy)
        if joined is not None:
            return joined
        reply = await self.selfservice.handle(
            db,
            Turn(message.channel, message.sender, message.text, self.today(),
                 identity_kind=message.identity_kind),
        )  # fmt: skip
        outcome = await self._after(db, message, policy, reply)
        outcome.notifications = list(reply.notifications)
        # Counted for the containment KPIs (kefu.reports): answered here, or handed to agents.
        await record_turn(db, channel=message.channel, address=message.sender,
                          intent=reply.intent or "", handed_off=outcome.handed_off,
                          answered=reply.understood and not outcome.handed_off)  # fmt: skip
        return outcome

    async def join_human(
        self, db: AsyncSession, message: InboundMessage, policy: HybridPolicy
    ) -> Outcome | None:
        """Step 1 alone: when a human holds the customer's conversation (and the policy keeps
        the bot silent then), ``message`` joins it and this is the outcome; None otherwise.
        A channel calls it directly for what never goes to self-service, e.g. a menu item
        that opens an article, so a tap still reaches the agent."""
        if not policy.silent_while_agent:
            return None
        owned = await handoff.human_owned(db, message.channel, message.sender)
        if owned is None:
            return None
        return await self._join(db, message, policy, *owned)

    async def hand_off(
        self,
        db: AsyncSession,
        message: InboundMessage,
        *,
        subject: str,
        attributes: dict[str, object] | None = None,
    ) -> int:
        """Opens a conversation for ``message`` straight into routing (a channel's own route to
        agents, e.g. SMS's agents' service number); returns its id."""
        conversation, _task = await intake.open_conversation(
            db,
            channel=message.channel,
            contact=message.sender,
            text=message.text,
            now=utcnow(),
            subject=subject,
            customer_no=message.customer_no,
            attributes=dict(attributes or {}),
            actor=f"{message.channel}:{message.sender}",
        )
        return conversation.id

    async def _join(
        self,
        db: AsyncSession,
        message: InboundMessage,
        policy: HybridPolicy,
        conversation: Conversation,
        task: RoutingTask,
    ) -> Outcome:
        menu = menu_label(message)
        # A menu tap joins as its label (the agent reads what was tapped, not a key or the
        # command it stands for); typed text as it was typed.
        text = tap_text(menu) if menu is not None else message.text
        await handoff.add_customer_message(db, conversation, text)
        outcome = Outcome(conversation_id=conversation.id, handed_off=True)
        if task.state == TaskState.WAITING:
            outcome.queue_position = await handoff.queue_position(db, task)
            outcome.text = policy.forwarded_to_agent + policy.queue_note(outcome.queue_position)
        elif menu is not None and policy.menu_ack_while_agent:
            outcome.text = policy.menu_ack_while_agent  # a tap answered by nothing looks broken
        return outcome  # otherwise an agent owns it: the agent answers, the bot stays silent

    async def _after(
        self, db: AsyncSession, message: InboundMessage, policy: HybridPolicy, reply: Reply
    ) -> Outcome:
        counting = policy.handoff_after_misreads > 0
        if reply.conversation_id is not None:
            if counting:
                await self._reset_misreads(db, message)
            if not policy.announce_handoff:
                return Outcome(reply=reply, conversation_id=reply.conversation_id, handed_off=True)
            return await self._asked_for_agent(db, policy, reply)
        if not reply.understood and counting:
            if await self._misread(db, message) >= policy.handoff_after_misreads:
                await self._reset_misreads(db, message)
                return await self._hand_over_misread(db, message, policy)
            return Outcome(reply=reply, text=policy.not_understood)
        if counting:
            await self._reset_misreads(db, message)
        return Outcome(reply=reply)

    async def _asked_for_agent(
        self, db: AsyncSession, policy: HybridPolicy, reply: Reply
    ) -> Outcome:
        conversation_id = reply.conversation_id
        task = await db.get(RoutingTask, conversation_id)
        outcome = Outcome(reply=reply, conversation_id=conversation_id, handed_off=True)
        if task is not None and task.state == TaskState.OVERFLOWED:
            outcome.text = "\n".join(reply.texts)  # the queue is full: the assistant says so
            return outcome
        lead = policy.transferred if reply.intent == "agent.transfer" else "\n".join(reply.texts)
        outcome.queue_position = await handoff.queue_position(db, task)
        outcome.text = lead + policy.queue_note(outcome.queue_position)
        return outcome

    async def _hand_over_misread(
        self, db: AsyncSession, message: InboundMessage, policy: HybridPolicy
    ) -> Outcome:
        a = analyze(message.text, today=self.today())
        conversation, task = await intake.open_conversation(
            db, channel=message.channel, contact=message.sender, text=message.text,
            now=utcnow(), subject=message.text, intent=a.intent,
            customer_no=message.customer_no,
            attributes={"sentiment": a.sentiment.score, "keywords": list(a.keywords),
                        "reason": "not understood twice"},
            actor=f"{message.channel}:{message.sender}",
        )  # fmt: skip
        if task.state == TaskState.OVERFLOWED:
            return Outcome(text=policy.not_understood, conversation_id=conversation.id)
        position = await handoff.queue_position(db, task)
        return Outcome(
            text=policy.handed_over_after_misreads + policy.queue_note(position),
            conversation_id=conversation.id,
            queue_position=position,
            handed_off=True,
        )

    @staticmethod
    async def _misread(db: AsyncSession, message: InboundMessage) -> int:
        """Counts one more message not understood in a row; returns the count."""
        key = (ContactState.channel == message.channel, ContactState.address == message.sender)
        await db.execute(
            dialect_insert(db, ContactState)
            .values(channel=message.channel, address=message.sender, misreads=0,
                    updated_at=utcnow())
            .on_conflict_do_nothing()
        )  # fmt: skip
        await db.execute(
            update(ContactState)
            .where(*key)
            .values(misreads=ContactState.misreads + 1, updated_at=utcnow())
        )
        return int(await db.scalar(select(ContactState.misreads).where(*key)) or 0)

    @staticmethod
    async def _reset_misreads(db: AsyncSession, message: InboundMessage) -> None:
        # Read first: most messages are understood, and on SQLite a write statement would
        # take the database's write lock until the commit even when it changes nothing.
        counted = await db.scalar(
            select(ContactState.misreads).where(
                ContactState.channel == message.channel, ContactState.address == message.sender
            )
        )
        if not counted:
            return
        await db.execute(
            update(ContactState)
            .where(ContactState.channel == message.channel,
                   ContactState.address == message.sender, ContactState.misreads > 0)
            .values(misreads=0, updated_at=utcnow())
        )  # fmt: skip
