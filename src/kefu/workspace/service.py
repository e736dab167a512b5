"""What agents do to a conversation besides routing: reply, batch reply with scripts (话术),
private notes with @mentions, tags; and the customer panel read through the bank port."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.bank.port import BankError, BankPort, NotFound
from kefu.conversations.models import Conversation, Message
from kefu.identity.models import Customer
from kefu.privacy import mask_card, mask_id_number, mask_name, mask_phone, mask_text
from kefu.routing import service as routing
from kefu.routing.intake import message_payload
from kefu.routing.models import RoutingTask
from kefu.vocabulary import ConversationStatus, DeliveryState, Direction, SenderType
from kefu.webhooks import service as webhooks
from kefu.workspace import formatting, menus, scripts
from kefu.workspace.models import ConversationNote, ReplyScript
from kefu.workspace.visibility import Visibility

VARIABLES = scripts.VARIABLES
MAX_REPLY = 2000
_MENTION = re.compile(r"@([A-Za-z0-9_.-]{1,64})")


class WorkspaceError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class CardChoiceNeeded(WorkspaceError):
    """A script names a card and the context does not say which: the agent must choose."""

    def __init__(self, resolution: scripts.Resolution) -> None:
        super().__init__(f"choose a card: {resolution.reason}", 422)
        self.resolution = resolution


def template_variables(body: str) -> list[str]:
    """The {variables} a script uses; unknown ones are an error so nothing half-filled is sent."""
    try:
        return scripts.template_variables(body)
    except scripts.ScriptError as exc:
        raise WorkspaceError(str(exc)) from None


async def topic_texts(session: AsyncSession, conversation_id: int, limit: int = 20) -> list[str]:
    """What the customer wrote in this conversation (oldest first): a script's context."""
    rows = await session.scalars(
        select(Message.body)
        .where(
            Message.conversation_id == conversation_id, Message.direction == Direction.INBOUND.value
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return list(rows)


async def resolve_script(session: AsyncSession, body: str, *, conversation: Conversation, bank: BankPort,
                         agent_name: str, card: str | None = None) -> scripts.Resolution:  # fmt: skip
    """Fills a text for this conversation's customer in its context (see workspace/scripts.py)."""
    customer = (
        await session.get(Customer, conversation.customer_id) if conversation.customer_id else None
    )
    try:
        return await scripts.resolve(body, conversation=conversation, customer=customer, bank=bank,
                                     agent_name=agent_name, card=card,
                                     topic_texts=await topic_texts(session, conversation.id))  # fmt: skip
    except scripts.ScriptError as exc:
        raise WorkspaceError(str(exc)) from None


async def personalise(session: AsyncSession, body: str, *, conversation: Conversation, bank: BankPort,
                      agent_name: str, card: str | None = None) -> str:  # fmt: skip
    """The text to send; raises CardChoiceNeeded rather than naming a card the context does not
    determine. The text goes to the customer themselves, so their own name is used; a card
    appears only as its last four digits."""
    result = await resolve_script(session, body, conversation=conversation, bank=bank, agent_name=agent_name,
                                  card=card)  # fmt: skip
    if result.needs_choice or result.text is None:
        raise CardChoiceNeeded(result)
    return result.text


# Where a channel lets the agent choose how a reply leaves (Weibo: a public comment or a 私信).
REPLY_MODES = {"weibo": ("comment", "dm")}
PUBLIC_MAX = {"weibo": 140}  # a public Weibo comment is at most 140 characters


# Channels that carry no text to the customer. A VTM (video teller machine) conversation is a
# video session at a branch machine (kefu.branch.remote): nothing relays text to the machine,
# so a reply would be accepted and never delivered. It is refused with the reason instead — a
# message accepted is never silently dropped.
TEXTLESS_CHANNELS: dict[str, str] = {
    "vtm": "VTM（视频柜员机）会话只有视频，文字回复不会发送给客户，请在网点会话页通过视频沟通"
    " · VTM sessions are video only: text is not sent to the customer",
}


def check_reply_mode(channel: str, mode: str | None, body: str) -> None:
    """Refuses a mode the conversation's channel does not offer, and a public reply longer
    than the platform takes (said here, before it is accepted, not as a failure later)."""
    if mode is None:
        return
    if mode not in REPLY_MODES.get(channel, ()):
        raise WorkspaceError(f"reply_mode: {channel} conversations offer no choice {mode!r}", 422)
    limit = PUBLIC_MAX.get(channel)
    if mode == "comment" and limit is not None and len(body) > limit:
        raise WorkspaceError(
            f"公开回复不能超过{limit}字（现在{len(body)}字）：请缩短，或改用私信", 422
        )


async def reply(session: AsyncSession, *, conversation: Conversation, agent_id: int, body: str,
                now: datetime, reply_mode: str | None = None) -> Message:  # fmt: skip
    """An outbound message recorded with delivery state 'accepted'. The SMS gateway relays SMS
    conversations' replies and mirrors their delivery state; WeChat and Weibo adapters are
    later issues."""
    body = body.strip()
    if not body or len(body) > MAX_REPLY:
        raise WorkspaceError(f"a reply needs 1–{MAX_REPLY} characters")
    if conversation.status == ConversationStatus.CLOSED.value:
        raise WorkspaceError("this conversation is closed", 409)
    if (textless := TEXTLESS_CHANNELS.get(conversation.channel)) is not None:
        raise WorkspaceError(textless, 409)
    check_reply_mode(conversation.channel, reply_mode, body)
    message = Message(conversation_id=conversation.id, channel=conversation.channel,
                      direction=Direction.OUTBOUND.value, sender_type=SenderType.AGENT.value,
                      sender_agent_id=agent_id, body=body, delivery_state=DeliveryState.ACCEPTED.value,
                      created_at=now, reply_mode=reply_mode)  # fmt: skip
    session.add(message)
    conversation.updated_at = now
    await session.flush()
    await routing.mark_first_response(session, conversation_id=conversation.id, now=now)
    await routing.event(session, conversation_id=conversation.id, kind="replied", now=now, agent_id=agent_id,
                        actor=str(agent_id), message_id=message.id)  # fmt: skip
    await webhooks.emit(session, event="message.created", payload=message_payload(message), now=now)
    return message


@dataclass
class BatchResult:
    sent: list[int]
    skipped: dict[int, str]


async def batch_reply(session: AsyncSession, *, conversation_ids: list[int], body: str, agent_id: int,
                      agent_name: str, bank: BankPort, now: datetime, may_reply_to_any: bool) -> BatchResult:  # fmt: skip
    """One scripted reply, personalised per customer, to many conversations (e.g. the same
    complaint from fifty Weibo users). Conversations the agent may not answer are skipped
    with a reason rather than failing the whole batch."""
    template_variables(body)
    result = BatchResult([], {})
    for cid in dict.fromkeys(conversation_ids):
        conversation = await session.get(Conversation, cid)
        if conversation is None:
            result.skipped[cid] = "no such conversation"
            continue
        if conversation.status == ConversationStatus.CLOSED.value:
            result.skipped[cid] = "closed"
            continue
        if conversation.assigned_agent_id != agent_id and not may_reply_to_any:
            result.skipped[cid] = "not assigned to you"
            continue
        if conversation.channel in TEXTLESS_CHANNELS:
            result.skipped[cid] = "video only (VTM): text is not sent"
            continue
        try:
            text = await personalise(
                session, body, conversation=conversation, bank=bank, agent_name=agent_name
            )
        except CardChoiceNeeded as exc:
            # Never a guessed card: this one is answered from its own page, with a choice.
            result.skipped[cid] = f"choose the card in the conversation ({exc.resolution.reason})"
            continue
        await reply(session, conversation=conversation, agent_id=agent_id, body=text, now=now)
        result.sent.append(cid)
    return result


async def add_note(session: AsyncSession, *, conversation_id: int, author_id: int, body: str,
                   now: datetime) -> ConversationNote:  # fmt: skip
    body = body.strip()
    if not body or len(body) > MAX_REPLY:
        raise WorkspaceError(f"a note needs 1–{MAX_REPLY} characters")
    mentioned = sorted(set(_MENTION.findall(body)))
    known = (
        set(await session.scalars(select(Agent.username).where(Agent.username.in_(mentioned))))
        if mentioned
        else set()
    )
    note = ConversationNote(conversation_id=conversation_id, author_id=author_id, body=body,
                            mentions=sorted(known), created_at=now)  # fmt: skip
    session.add(note)
    await session.flush()
    await routing.event(session, conversation_id=conversation_id, kind="note", now=now, agent_id=author_id,
                        actor=str(author_id), mentions=sorted(known))  # fmt: skip
    return note


async def set_tags(session: AsyncSession, *, conversation_id: int, tags: list[str]) -> list[str]:
    clean = sorted({t.strip()[:32] for t in tags if t.strip()})
    if len(clean) > 20:
        raise WorkspaceError("at most 20 tags")
    task = await session.get(RoutingTask, conversation_id)
    if task is None:
        raise WorkspaceError(f"conversation {conversation_id} is not being routed", 404)
    task.tags = clean
    return clean


async def search_scripts(session: AsyncSession, query: str, limit: int = 20) -> list[ReplyScript]:
    """Shortcut first (what agents type after '/'), then title and text."""
    statement = select(ReplyScript).order_by(ReplyScript.shortcut).limit(limit)
    q = query.strip().lstrip("/")
    if q:
        like = f"%{q}%"
        statement = statement.where(
            ReplyScript.shortcut.like(f"{q}%")
            | ReplyScript.title.like(like)
            | ReplyScript.body.like(like)
        )
    return list(await session.scalars(statement))


async def past_conversations(
    session: AsyncSession, conversation: Conversation, view: Visibility, limit: int = 10
) -> list[Conversation]:
    """The customer's other conversations, newest first, those ``view`` may read only."""
    if conversation.customer_id is None:
        return []
    rows = (
        await session.execute(
            select(Conversation, RoutingTask)
            .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
            .where(
                Conversation.customer_id == conversation.customer_id,
                Conversation.id != conversation.id,
            )
            .order_by(Conversation.id.desc())
            .limit(200)
        )
    ).all()
    return [c for c, task in rows if view.may_read(c, task)][:limit]


async def customer_panel(
    session: AsyncSession, *, conversation: Conversation, bank: BankPort, view: Visibility
) -> dict[str, Any]:
    """Profile, holdings, recent bills, past conversations (those ``view`` may read, their
    subjects masked) and bindings, personal data masked."""
    if conversation.customer_id is None:
        return {
            "known": False,
            "contact": formatting.contact_label(conversation.channel, conversation.contact),
        }
    customer = await session.get(Customer, conversation.customer_id)
    assert customer is not None
    taps = await menus.click_labels(session)
    panel: dict[str, Any] = {
        "known": True,
        "customer_no": customer.bank_customer_no,
        "tier": customer.tier,
        "bindings": [{"kind": i.kind, "value": mask_phone(i.value) if i.value.isdigit() else i.value[:4] + "****"}
                     for i in customer.identities],
        "past": [
            {"id": c.id, "channel": c.channel, "subject": mask_text(menus.subject(taps, c.channel, c.subject)), "status": c.status,
             "created_at": c.created_at.isoformat()}
            for c in await past_conversations(session, conversation, view)
        ],
    }  # fmt: skip
    try:
        profile = await bank.get_customer(customer.bank_customer_no)
        cards = await bank.list_cards(customer.bank_customer_no)
        holdings = await bank.list_holdings(customer.bank_customer_no)
    except NotFound:
        panel["bank_error"] = "not found in the bank's systems"
        return panel
    except BankError as exc:
        panel["bank_error"] = f"the bank's systems did not answer: {exc}"[:200]
        return panel
    panel["profile"] = {"name": mask_name(profile.name), "mobile": mask_phone(profile.mobile),
                        "id_number": mask_id_number(profile.id_number), "city": profile.city,
                        "tier": profile.tier, "since": profile.since.isoformat()}  # fmt: skip
    panel["cards"] = [{"card_no": mask_card(c.card_no), "kind": c.kind, "product": c.product, "status": c.status}
                      for c in cards]  # fmt: skip
    panel["holdings"] = [
        {"product": h.product_name, "category": h.category, "amount": str(h.amount)}
        for h in holdings
    ]
    bills = []
    for card in [c for c in cards if c.kind == "credit"][:2]:
        try:
            for period in (await bank.list_bill_periods(card.card_no))[:3]:
                bill = await bank.get_bill(card.card_no, period)
                bills.append({"card_no": mask_card(card.card_no), "period": bill.period, "total": str(bill.total),
                              "due_date": bill.due_date.isoformat(), "paid": str(bill.paid)})  # fmt: skip
        except (NotFound, BankError):
            continue
    panel["bills"] = bills
    return panel
