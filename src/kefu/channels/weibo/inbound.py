"""What Weibo sends in, as kefu keeps it and hands it on.

Every item (a post that @s the account, a comment, a 私信, an event) is stored first, once, in
``weibo_received`` — (account, kind, external id) is unique, so a replayed page or a retried
push finds its row — and handed to the pipeline afterwards, in its own transaction that also
marks the row handled: a crash between the two leaves the row ``stored`` and the next sweep
hands it on (nothing lost, nothing twice).

Public items (posts, comments) never get a self-service answer in public: a route (the social
desk's) takes them, else they join the author's conversation held by a human, else they are
handed off to routing. A 私信 goes through the ordinary pipeline; the bot's answers are recorded
as outbound 私信 in the same transaction and sent by the outbound worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.weibo.manifest import MANIFEST
from kefu.channels.weibo.models import (
    OutState,
    ReceivedState,
    WeiboOutbound,
    WeiboReceived,
)
from kefu.conversations.models import Message
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.logs import get_logger
from kefu.messaging.contract import InboundMessage
from kefu.messaging.pipeline import Pipeline
from kefu.vocabulary import Channel, DeliveryState, Direction, IdentityKind, SenderType

log = get_logger(__name__)

WEIBO = Channel.WEIBO.value
UID = IdentityKind.WEIBO_UID.value
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
DELETED_NOTE = "原微博已删除"
MAX_TRIES = 5  # hand-offs of one item before it is marked failed (and logged)
# ``listening``: a post the commercial search found for a listening term (not addressed to the
# bank; see listening.py) — public, but never a conversation of its own.
PUBLIC_KINDS = frozenset({"mention", "comment", "listening"})


def weibo_time(value: Any) -> datetime | None:
    """Weibo's ``created_at`` ("Sun Dec 06 16:05:00 +0800 2026") in UTC; None if unreadable."""
    try:
        return datetime.strptime(str(value), TIME_FORMAT).astimezone(UTC)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Item:
    """One received thing, as stored."""

    kind: str  # mention, comment, dm, event
    external_id: str
    sender_uid: str
    sender_name: str
    text: str
    posted_at: datetime | None
    status_id: str | None = None
    deleted: bool = False
    payload: Mapping[str, Any] | None = None

    @property
    def sort_key(self) -> int:
        return int(self.external_id) if self.external_id.isdigit() else 0


class Malformed(ValueError):
    """An object without the fields kefu needs (names the field)."""


def _id(obj: Mapping[str, Any], what: str) -> str:
    value = obj.get("idstr") or obj.get("id")
    if value is None or not str(value).isdigit():
        raise Malformed(f"{what}.id missing or not a number")
    return str(value)


def _author(obj: Mapping[str, Any]) -> dict[str, Any]:
    user = obj.get("user")
    return user if isinstance(user, dict) else {}


def from_status(status: Mapping[str, Any]) -> Item:
    """A post that @s the account (``statuses/mentions``)."""
    user = _author(status)
    deleted = str(status.get("deleted", "")) == "1"
    if not deleted and not user:
        raise Malformed("status.user missing")
    return Item("mention", _id(status, "status"), str(user.get("idstr") or user.get("id") or ""),
                str(user.get("screen_name") or "")[:64], str(status.get("text") or ""),
                weibo_time(status.get("created_at")), None, deleted, dict(status))  # fmt: skip


def from_comment(comment: Mapping[str, Any]) -> Item:
    """A comment that @s the account, on its posts, or a reply to its comments."""
    user = _author(comment)
    deleted = str(comment.get("deleted", "")) == "1"
    if not deleted and not user:
        raise Malformed("comment.user missing")
    status = comment.get("status")
    status_id = _id(status, "comment.status") if isinstance(status, dict) else None
    return Item("comment", _id(comment, "comment"), str(user.get("idstr") or user.get("id") or ""),
                str(user.get("screen_name") or "")[:64], str(comment.get("text") or ""),
                weibo_time(comment.get("created_at")), status_id, deleted, dict(comment))  # fmt: skip


def dm_key(sender_id: str, created_at: str, text: str) -> str:
    """A 私信 has no id on the wire: the platform's retries repeat sender, time and text."""
    return hashlib.sha256(f"{sender_id}\x00{created_at}\x00{text}".encode()).hexdigest()[:48]


def inbound_message(row: WeiboReceived) -> InboundMessage:
    """The message contract of social channels (docs/channels/weibo.md, issue #14)."""
    payload = row.payload or {}
    user = _author(payload)
    public = row.kind in PUBLIC_KINDS
    kind = row.kind
    social = {
        "platform": "weibo",
        "kind": kind,
        "external_id": row.external_id if kind != "dm" else f"dm:{row.external_id}",
        "parent_external_id": row.status_id,
        "url": post_url(row) if public else "",
        "posted_at": (row.posted_at or row.received_at).isoformat(),
        "author": {"uid": row.sender_uid, "name": row.sender_name,
                   "followers": _int(user.get("followers_count")),
                   "verified_type": _int(user.get("verified_type"), -1)},
        "reposts": _int(payload.get("reposts_count")),
        "comments": _int(payload.get("comments_count")),
        "likes": _int(payload.get("attitudes_count")),
    }  # fmt: skip
    return InboundMessage(
        channel=WEIBO, account=row.account, sender=row.sender_uid, text=row.text,
        identity_kind=UID, external_id=row.external_id, received_at=row.received_at,
        metadata={"public": public, "social": social,
                  "weibo": {"kind": kind, "status_id": row.status_id,
                            "comment_id": row.external_id if kind == "comment" else None}},
    )  # fmt: skip


def post_url(row: WeiboReceived) -> str:
    status_id = row.status_id if row.kind == "comment" else row.external_id
    return f"https://weibo.com/{row.sender_uid}/{status_id}" if status_id else ""


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def store(db: AsyncSession, account: str, items: Sequence[Item]) -> list[int]:
    """Stores the items not stored yet (oldest first); returns the new rows' ids. An item
    seen before that now reads deleted is marked so (and its conversation told)."""
    new: list[int] = []
    for item in sorted(items, key=lambda i: i.sort_key):
        values = dict(
            account=account, kind=item.kind, external_id=item.external_id,
            sender_uid=item.sender_uid[:24], sender_name=item.sender_name, text=item.text,
            status_id=item.status_id, posted_at=item.posted_at, received_at=utcnow(),
            deleted=item.deleted, payload=dict(item.payload or {}), tries=0,
            state=ReceivedState.RECORDED if item.deleted or item.kind == "event"
            else ReceivedState.STORED,
        )  # fmt: skip
        result = await db.execute(
            dialect_insert(db, WeiboReceived).values(**values).on_conflict_do_nothing()
            .returning(WeiboReceived.id)
        )  # fmt: skip
        row_id = result.scalar()
        if row_id is not None:
            new.append(row_id)
        elif item.deleted:
            await mark_deleted(db, account, item.kind, item.external_id)
    return new


async def mark_deleted(db: AsyncSession, account: str, kind: str, external_id: str) -> None:
    """The post (or comment) was deleted by its author: recorded, and the conversation that
    holds it gets a system note so the agent does not answer into nothing."""
    row = await db.scalar(
        select(WeiboReceived).where(WeiboReceived.account == account, WeiboReceived.kind == kind,
                                    WeiboReceived.external_id == external_id)
    )  # fmt: skip
    if row is None or row.deleted:
        return
    row.deleted = True
    if row.conversation_id is not None:
        db.add(Message(conversation_id=row.conversation_id, channel=WEIBO,
                       direction=Direction.INBOUND.value, sender_type=SenderType.SYSTEM.value,
                       body=DELETED_NOTE, delivery_state=DeliveryState.RECEIVED.value))  # fmt: skip
    log.info("weibo_item_deleted", account=account, kind=kind, id=external_id)


class Intake:
    """Hands stored items to the pipeline, one transaction each."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], pipeline: Pipeline) -> None:
        self.sessionmaker = sessionmaker
        self.pipeline = pipeline
        self.handled = 0

    async def pending(
        self, account: str | None = None, limit: int = 200, *, kinds: Sequence[str] = ()
    ) -> list[int]:
        """Stored items not yet handed on (of ``kinds``, or all), oldest first (by kind's own
        id order)."""
        async with self.sessionmaker() as db:
            query = select(WeiboReceived.id, WeiboReceived.posted_at, WeiboReceived.external_id)
            query = query.where(WeiboReceived.state == ReceivedState.STORED)
            if account is not None:
                query = query.where(WeiboReceived.account == account)
            if kinds:
                query = query.where(WeiboReceived.kind.in_(list(kinds)))
            rows = (await db.execute(query.order_by(WeiboReceived.id).limit(limit))).all()
        # Weibo's times have whole seconds: within one, its increasing ids give the order.
        rows.sort(
            key=lambda r: (
                r.posted_at or utcnow(),
                int(r.external_id) if r.external_id.isdigit() else 0,
                r.id,
            )
        )
        return [r.id for r in rows]

    async def hand_on(self, row_ids: Sequence[int]) -> None:
        for row_id in row_ids:
            try:
                await self._hand_on(row_id)
            except Exception as exc:  # noqa: BLE001 - one bad item must not stop the rest
                log.exception("weibo_handoff_failed", row=row_id)
                await self._failed(row_id, exc)

    async def _hand_on(self, row_id: int) -> None:
        async with self.sessionmaker() as db:
            row = await db.get(WeiboReceived, row_id)
            if row is None or row.state != ReceivedState.STORED:
                return  # handed on by another worker
            # Claim it: only one worker (or process) hands an item on.
            claimed = await db.execute(
                update(WeiboReceived)
                .where(WeiboReceived.id == row_id, WeiboReceived.state == ReceivedState.STORED)
                .values(state=ReceivedState.HANDLED, handled_at=utcnow())
            )
            if claimed.rowcount != 1:
                await db.rollback()
                return
            message = inbound_message(row)
            conversation_id, answers = await self._route(db, message)
            row.conversation_id = conversation_id
            for i, text in enumerate(answers):
                db.add(WeiboOutbound(account=row.account, idempotency_key=f"answer:{row.id}:{i}",
                                     mode="dm", receiver_uid=row.sender_uid, text=text,
                                     state=OutState.ACCEPTED))  # fmt: skip
            await db.commit()
            self.handled += 1

    async def _route(
        self, db: AsyncSession, message: InboundMessage
    ) -> tuple[int | None, list[str]]:
        routed = await self.pipeline.route(db, message)
        if routed is not None:
            found = routed.meta.get("conversation_id")
            return (int(found) if isinstance(found, int) else None), []
        if message.metadata["weibo"]["kind"] == "listening":
            # Not addressed to the bank: only the social desk's route may keep it; without that
            # route it is recorded here and nobody is asked to answer it.
            log.info("weibo_listening_unrouted", account=message.account,
                     id=message.external_id)  # fmt: skip
            return None, []
        if message.metadata.get("public"):
            # Never a self-service answer in public: a human's conversation, or a new one.
            joined = await self.pipeline.join_human(db, message, MANIFEST.policy)
            if joined is not None:
                return joined.conversation_id, []
            subject = f"微博{'评论' if message.metadata['weibo']['kind'] == 'comment' else '@提及'}：" \
                f"{message.text[:60]}"  # fmt: skip
            conversation_id = await self.pipeline.hand_off(
                db, message, subject=subject,
                attributes={"weibo_kind": message.metadata["weibo"]["kind"], "public": True},
            )  # fmt: skip
            return conversation_id, []
        outcome = await self.pipeline.handle(db, message, MANIFEST.policy)
        return outcome.conversation_id, outcome.texts()

    async def _failed(self, row_id: int, exc: Exception) -> None:
        async with self.sessionmaker() as db:
            row = await db.get(WeiboReceived, row_id)
            if row is None:
                return
            row.tries += 1
            row.error = f"{type(exc).__name__}: {exc}"[:200]
            row.state = ReceivedState.FAILED if row.tries >= MAX_TRIES else ReceivedState.STORED
            await db.commit()
