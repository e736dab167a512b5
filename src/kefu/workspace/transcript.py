"""What happened before a person took over (issue 23, finding 8): the assistant's dialogue
with the customer on the same channel and address before the hand-off, and why it was
handed off, so the agent does not ask again what the bot already heard.

The bot's turns live in each channel's own store (``sms_messages``, ``wechat_inbound``,
``webchat_messages``); they are read here, read-only, for the hour before the conversation
opened. A channel without a reader simply shows nothing before the hand-off. What the customer
typed is masked (card, ID and phone numbers); a WeChat menu tap reads as the item's label
(「菜单：人工客服」), not as its key or the short command it sends ("RG").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation
from kefu.privacy import mask_text
from kefu.routing.models import RoutingTask
from kefu.web.i18n import N_
from kefu.workspace import menus

WINDOW = timedelta(hours=1)
LIMIT = 12

Turn = dict[str, Any]  # {"at": datetime, "direction": "in"|"out", "text": str}
Reader = Callable[[AsyncSession, Conversation, datetime], Awaitable[list[Turn]]]

# Why the conversation reached a person: the default workflow's rule names and the reasons
# channels give (RoutingTask.attributes["reason"]).
RULE_LABELS = {
    "crisis": N_("possible fraud or crisis"),
    "negative_social": N_("negative sentiment on a social channel"),
    "credit_card": N_("credit-card matter"),
    "english": N_("English-speaking customer"),
    "wealth": N_("deposits and wealth"),
    "default": N_("general enquiry"),
}
REASON_LABELS = {
    "not understood twice": N_("the assistant did not understand twice"),
    "asked for an agent": N_("the customer asked for an agent"),
}


def _start(conversation: Conversation) -> datetime:
    at = conversation.created_at
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def _sms(db: AsyncSession, conversation: Conversation, before: datetime) -> list[Turn]:
    from kefu.channels.sms.models import SmsMessage

    rows = await db.scalars(
        select(SmsMessage)
        .where(SmsMessage.phone == conversation.contact, SmsMessage.created_at < before,
               SmsMessage.created_at >= before - WINDOW, SmsMessage.kind.in_(("mo", "reply")))
        .order_by(SmsMessage.id.desc())
        .limit(LIMIT)
    )  # fmt: skip
    return [{"at": r.created_at, "direction": r.direction, "text": r.text} for r in rows][::-1]


def _wechat_answer(answer: dict[str, Any] | None) -> str:
    if not answer:
        return ""
    if answer.get("type") == "text":
        return str(answer.get("content", ""))
    articles = answer.get("articles") or []
    return "；".join(str(a.get("title", "")) for a in articles if isinstance(a, dict))


async def _wechat(db: AsyncSession, conversation: Conversation, before: datetime) -> list[Turn]:
    from kefu.channels.wechat.models import WechatInbound

    labels = await menus.click_labels(db)

    rows = list(
        await db.scalars(
            select(WechatInbound)
            .where(WechatInbound.openid == conversation.contact, WechatInbound.received_at < before,
                   WechatInbound.received_at >= before - WINDOW)
            .order_by(WechatInbound.id.desc())
            .limit(LIMIT // 2)
        )
    )[::-1]  # fmt: skip
    turns: list[Turn] = []
    for row in rows:
        tapped = menus.tapped(labels, row.event, row.dedupe_key, row.content)
        said = tapped or row.content or (f"[{row.event}]" if row.event else "")
        if said:
            turns.append({"at": row.received_at, "direction": "in", "text": said})
        answer = _wechat_answer(row.answer)
        if answer:
            turns.append(
                {"at": row.answered_at or row.received_at, "direction": "out", "text": answer}
            )
    return turns


async def _webchat(db: AsyncSession, conversation: Conversation, before: datetime) -> list[Turn]:
    """The widget's session that handed over (or the visitor's address's sessions): the
    visitor's messages and the assistant's answers before the conversation opened."""
    from kefu.channels.webchat.models import WebchatMessage, WebchatSession

    sessions = select(WebchatSession.id).where(
        (WebchatSession.conversation_id == conversation.id)
        | (WebchatSession.address == conversation.contact)
    )
    rows = await db.scalars(
        select(WebchatMessage)
        .where(WebchatMessage.session_id.in_(sessions), WebchatMessage.created_at < before,
               WebchatMessage.created_at >= before - WINDOW)
        .order_by(WebchatMessage.id.desc())
        .limit(LIMIT)
    )  # fmt: skip
    turns = []
    for row in rows:
        text = row.text or (str((row.card or {}).get("title", "")) if row.card else "")
        if text:
            turns.append({"at": row.created_at, "direction": row.direction, "text": text})
    return turns[::-1]


READERS: dict[str, Reader] = {"sms": _sms, "wechat": _wechat, "webchat": _webchat}


async def before_handoff(db: AsyncSession, conversation: Conversation) -> list[Turn]:
    """The assistant's dialogue with this address in the hour before the conversation opened."""
    reader = READERS.get(conversation.channel)
    if reader is None or not conversation.contact:
        return []
    try:
        turns = await reader(db, conversation, _start(conversation))
    except Exception:  # noqa: BLE001 - a channel's store missing or changed: show nothing
        return []
    return [{**turn, "text": mask_text(turn["text"])} for turn in turns]


async def handoff_reason(db: AsyncSession, conversation_id: int) -> dict[str, Any] | None:
    """Why and how the conversation reached a person: the routing rule, the channel's reason,
    and what was understood (intent, keywords, negative sentiment)."""
    task = await db.get(RoutingTask, conversation_id)
    if task is None:
        return None
    attributes = task.attributes or {}
    reason = attributes.get("reason")
    sentiment = attributes.get("sentiment")
    return {
        "rule": task.rule,
        "rule_label": RULE_LABELS.get(task.rule)
        or (task.rule.split(":", 1)[-1] if task.rule else ""),
        "reason": REASON_LABELS.get(reason, reason) if isinstance(reason, str) else None,
        "keywords": [mask_text(k) for k in attributes.get("keywords") or [] if isinstance(k, str)][
            :8
        ],
        "negative": isinstance(sentiment, (int, float)) and sentiment <= -0.5,
        "crisis": bool(attributes.get("crisis")),
    }
