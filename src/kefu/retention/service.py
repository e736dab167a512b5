"""Retention under PIPL: what is due for purging per data kind, the purge itself (a dry run
counts the same rows), legal holds, and a customer's export and erasure.

Legal holds win over everything: a held customer's conversations, their addresses' channel
copies and a held conversation are never purged nor erased (the holds' foreign keys also
refuse a delete at the database). The channels' own copies of texts are read by table name,
like any store the platform keeps (retention does not import channel code)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, column, delete, func, inspect, or_, select, table, true
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.models import AuditEntry
from kefu.audit.service import record as audit
from kefu.conversations import search
from kefu.conversations.models import Conversation, Message
from kefu.identity.models import ChannelIdentity, Customer
from kefu.quality.models import CsatResponse
from kefu.reports.models import SelfServiceTurn
from kefu.reports.turns import customer_key
from kefu.retention.models import LegalHold, PrivacyRequest
from kefu.retention.settings import RetentionSettings
from kefu.social.models import SocialPost
from kefu.vocabulary import ConversationStatus

if TYPE_CHECKING:
    from kefu.analytics.retention import AnalyticsRetention

BATCH = 500

_SMS = table("sms_messages", column("id"), column("phone"), column("created_at"))
_WEBCHAT = table("webchat_sessions", column("id"), column("address"), column("created_at"),
                 column("conversation_id"))  # fmt: skip
_WECHAT = table("wechat_inbound", column("id"), column("openid"), column("received_at"))
# Customer lists behaviour analytics keeps by customer number (saved segments, clustering runs):
# a marketing list is personal data too, so erasure takes the customer out of each.
_CUSTOMER_LISTS = (
    table("analytics_segment_members", column("customer_no")),
    table("analytics_cluster_members", column("customer_no")),
)


class RetentionError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class KindReport:
    kind: str
    label: str
    keep_days: int
    due: int = 0  # older than the policy, not held: purged (or would be)
    held: int = 0  # older than the policy but under a legal hold: kept
    note: str = ""


@dataclass
class PurgeReport:
    dry_run: bool
    at: datetime
    kinds: list[KindReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "at": self.at.isoformat(),
                "kinds": [k.__dict__ for k in self.kinds]}  # fmt: skip


async def _active_holds(db: AsyncSession) -> tuple[set[int], set[int]]:
    rows = (
        await db.execute(
            select(LegalHold.customer_id, LegalHold.conversation_id).where(
                LegalHold.released_at.is_(None)
            )
        )
    ).all()
    return {c for c, _ in rows if c}, {v for _, v in rows if v}


async def held_addresses(db: AsyncSession) -> set[str]:
    """Channel addresses whose data a hold keeps: the held customers' bound identities and
    the contacts of held conversations."""
    customers, conversations = await _active_holds(db)
    found: set[str] = set()
    if customers:
        found |= set((await db.scalars(select(ChannelIdentity.value).where(
            ChannelIdentity.customer_id.in_(customers)))).all())  # fmt: skip
    if conversations:
        found |= set((await db.scalars(select(Conversation.contact).where(
            Conversation.id.in_(conversations)))).all())  # fmt: skip
    return {a for a in found if a}


def _held(customers: set[int], conversations: set[int]) -> Any:
    clauses = []
    if customers:
        clauses.append(Conversation.customer_id.in_(customers))
    if conversations:
        clauses.append(Conversation.id.in_(conversations))
    return or_(*clauses) if clauses else None


async def _ids(db: AsyncSession, query: Select[Any]) -> list[int]:
    return list((await db.scalars(query)).all())


async def _delete_ids(db: AsyncSession, target: Any, id_column: Any, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), BATCH):
        await db.execute(delete(target).where(id_column.in_(ids[start : start + BATCH])))


async def _tables(db: AsyncSession) -> set[str]:
    conn = await db.connection()
    return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def held_customer_numbers(db: AsyncSession) -> set[str]:
    """The bank customer numbers under an active hold (behaviour analytics matches them by
    their keyed hash: kefu.analytics.retention)."""
    customers, _ = await _active_holds(db)
    if not customers:
        return set()
    return set((await db.scalars(select(Customer.bank_customer_no).where(
        Customer.id.in_(customers)))).all())  # fmt: skip


async def purge(
    db: AsyncSession, settings: RetentionSettings, *, now: datetime, dry_run: bool, actor: str,
    analytics: AnalyticsRetention | None = None,
) -> PurgeReport:  # fmt: skip
    """Purges (or with ``dry_run`` only counts) what each policy says is due; audited. The
    caller commits. ``analytics``: the behaviour event store and its replays (the running
    app's; None where it could not be opened: reported, not purged)."""
    report = PurgeReport(dry_run, now)
    customers, conversations = await _active_holds(db)
    held = _held(customers, conversations)
    addresses = await held_addresses(db)
    present = await _tables(db)

    # Closed conversations, with their messages, notes, routing history, CSAT and QA.
    kind = KindReport("conversations", "会话与消息", settings.conversations_days)
    old = (Conversation.status == ConversationStatus.CLOSED.value) & (
        Conversation.closed_at < now - timedelta(days=settings.conversations_days)
    )
    # Held ones by id (a NOT over "customer_id IN …" would be NULL, hence false, for the
    # conversations of no known customer, and they would never be purged).
    keep = true() if held is None else Conversation.id.not_in(select(Conversation.id).where(held))
    due = await _ids(db, select(Conversation.id).where(old, keep))
    if held is not None:
        kind.held = int(await db.scalar(select(func.count()).where(old, held)) or 0)
    kind.due = len(due)
    if not dry_run:
        await search.forget_conversations(db, due)  # the words' counts go with the postings
        await _delete_ids(db, Conversation, Conversation.id, due)
    report.kinds.append(kind)

    # The channels' copies of texts, by address.
    cutoff = now - timedelta(days=settings.channel_messages_days)
    for name, tbl, address, at in (
        ("sms_messages", _SMS, _SMS.c.phone, _SMS.c.created_at),
        ("webchat_sessions", _WEBCHAT, _WEBCHAT.c.address, _WEBCHAT.c.created_at),
        ("wechat_inbound", _WECHAT, _WECHAT.c.openid, _WECHAT.c.received_at),
    ):
        kind = KindReport(name, "渠道消息副本", settings.channel_messages_days)
        if name not in present:
            kind.note = "该渠道未启用"
            report.kinds.append(kind)
            continue
        is_held = address.in_(addresses) if addresses else None
        keep = (~is_held) if is_held is not None else true()
        due = await _ids(db, select(tbl.c.id).where(at < cutoff, keep))
        if is_held is not None:
            kind.held = int(await db.scalar(select(func.count()).select_from(tbl).where(
                at < cutoff, is_held)) or 0)  # fmt: skip
        kind.due = len(due)
        if not dry_run:
            await _delete_ids(db, tbl, tbl.c.id, due)
        report.kinds.append(kind)

    # Social posts (a post answered in a held conversation stays with it).
    kind = KindReport("social_posts", "社交媒体帖子", settings.social_posts_days)
    old_post = SocialPost.received_at < now - timedelta(days=settings.social_posts_days)
    if conversations:
        keep_post = SocialPost.conversation_id.is_(None) | SocialPost.conversation_id.not_in(
            conversations
        )
        kind.held = int(await db.scalar(select(func.count()).where(
            old_post, SocialPost.conversation_id.in_(conversations))) or 0)  # fmt: skip
    else:
        keep_post = true()
    due = await _ids(db, select(SocialPost.id).where(old_post, keep_post))
    kind.due = len(due)
    if not dry_run:
        await _delete_ids(db, SocialPost, SocialPost.id, due)
    report.kinds.append(kind)

    await _purge_turns(db, report, settings, addresses, now=now, dry_run=dry_run)
    await _purge_analytics(db, report, analytics, now=now, dry_run=dry_run)

    # The audit log: append-only in the database; reported for the DBA to archive.
    kind = KindReport("audit_log", "审计日志", settings.audit_days,
                      note="只追加，不由本任务删除；到期条目由数据库管理员归档")  # fmt: skip
    kind.due = int(await db.scalar(select(func.count()).where(
        AuditEntry.at < now - timedelta(days=settings.audit_days))) or 0)  # fmt: skip
    report.kinds.append(kind)

    await audit(db, actor=actor, action="retention.dry_run" if dry_run else "retention.purge",
                details=report.to_dict())  # fmt: skip
    return report


async def _turn_keys(db: AsyncSession, addresses: Sequence[str]) -> set[str]:
    """The hashed customers of ``addresses`` as self-service turns store them (the hash
    includes the channel, so each address is hashed once per channel turns were seen on)."""
    if not addresses:
        return set()
    channels = (await db.scalars(select(SelfServiceTurn.channel).distinct())).all()
    return {customer_key(channel, address) for channel in channels for address in addresses}


async def _purge_turns(
    db: AsyncSession, report: PurgeReport, settings: RetentionSettings, addresses: set[str], *,
    now: datetime, dry_run: bool,
) -> None:  # fmt: skip
    """Self-service turns (a hashed customer each) older than their period; a held
    customer's addresses keep theirs. kpi_hourly keeps the sums already rolled up."""
    kind = KindReport("kpi_selfservice_turns", "自助服务轮次", settings.selfservice_turns_days,
                      note="客户以哈希保存；已汇总的小时指标保留")  # fmt: skip
    old = SelfServiceTurn.at < now - timedelta(days=settings.selfservice_turns_days)
    held_keys = await _turn_keys(db, sorted(addresses))
    keep = SelfServiceTurn.customer.not_in(held_keys) if held_keys else true()
    if held_keys:
        kind.held = int(await db.scalar(select(func.count()).where(
            old, SelfServiceTurn.customer.in_(held_keys))) or 0)  # fmt: skip
    due = await _ids(db, select(SelfServiceTurn.id).where(old, keep))
    kind.due = len(due)
    if not dry_run:
        await _delete_ids(db, SelfServiceTurn, SelfServiceTurn.id, due)
    report.kinds.append(kind)


async def _purge_analytics(
    db: AsyncSession, report: PurgeReport, analytics: AnalyticsRetention | None, *,
    now: datetime, dry_run: bool,
) -> None:  # fmt: skip
    """Behaviour events (by day) and session replays, a held customer's kept."""
    events = KindReport("analytics_events", "行为分析事件", 0)
    replays = KindReport("analytics_replays", "会话回放", 0)
    if analytics is None:
        events.note = replays.note = "行为分析事件库未打开（由运行中的 kefu 占用时请在页面上执行）"
    else:
        events.keep_days = analytics.settings.retention_days
        replays.keep_days = analytics.settings.replay_retention_days
        held = await held_customer_numbers(db)
        events.due, events.held = await analytics.events(now.date(), held, dry_run=dry_run)
        replays.due, replays.held = await analytics.replays(db, now, held, dry_run=dry_run)
        events.note = "按日删除；被保全客户的事件按其客户号的密钥哈希匹配并保留"
    report.kinds += [events, replays]


# ---------------------------------------------------------------------------- legal holds
async def add_hold(
    db: AsyncSession, *, bank_customer_no: str = "", conversation_id: int | None = None,
    reason: str, actor: str,
) -> LegalHold:  # fmt: skip
    reason = reason.strip()
    if not 2 <= len(reason) <= 500:
        raise RetentionError("保全原因需 2–500 字")
    customer_id = None
    if bank_customer_no.strip():
        customer_id = await db.scalar(
            select(Customer.id).where(Customer.bank_customer_no == bank_customer_no.strip())
        )
        if customer_id is None:
            raise RetentionError("没有这个客户号", 404)
    if conversation_id is not None and await db.get(Conversation, conversation_id) is None:
        raise RetentionError("没有这个会话", 404)
    if (customer_id is None) == (conversation_id is None):
        raise RetentionError("请填写客户号或会话号之一")
    hold = LegalHold(customer_id=customer_id, conversation_id=conversation_id, reason=reason,
                     created_by=actor)  # fmt: skip
    db.add(hold)
    await db.flush()
    await audit(db, actor=actor, action="retention.hold",
                target=f"customer:{customer_id}" if customer_id else f"conversation:{conversation_id}",
                details={"hold": hold.id, "reason": reason})  # fmt: skip
    return hold


async def release_hold(db: AsyncSession, hold_id: int, *, actor: str, now: datetime) -> LegalHold:
    hold = await db.get(LegalHold, hold_id)
    if hold is None:
        raise RetentionError("没有这条保全", 404)
    if hold.released_at is not None:
        raise RetentionError("这条保全已解除", 409)
    hold.released_by, hold.released_at = actor, now
    await audit(db, actor=actor, action="retention.hold_released", details={"hold": hold.id})
    return hold


# ---------------------------------------------------------------------- customers' requests
async def _customer(db: AsyncSession, bank_customer_no: str) -> Customer:
    found = await db.scalar(
        select(Customer).where(Customer.bank_customer_no == bank_customer_no.strip())
    )
    if found is None:
        raise RetentionError("没有这个客户号", 404)
    return found


async def _conversation_ids(
    db: AsyncSession, customer: Customer, addresses: list[str]
) -> list[int]:
    clause = Conversation.customer_id == customer.id
    if addresses:
        clause = clause | Conversation.contact.in_(addresses)
    return await _ids(db, select(Conversation.id).where(clause).order_by(Conversation.id))


async def export_customer(db: AsyncSession, bank_customer_no: str, *, actor: str) -> dict[str, Any]:
    """Everything the service centre keeps about a customer (PIPL's right to a copy): their
    record, bound addresses, conversations with every message, and CSAT answers. Audited and
    recorded as a request."""
    customer = await _customer(db, bank_customer_no)
    identities = (await db.execute(select(ChannelIdentity.kind, ChannelIdentity.value).where(
        ChannelIdentity.customer_id == customer.id))).all()  # fmt: skip
    ids = await _conversation_ids(db, customer, [v for _, v in identities])
    conversations = []
    for cid in ids:
        conv = await db.get(Conversation, cid)
        assert conv is not None
        messages = (await db.execute(
            select(Message.created_at, Message.direction, Message.sender_type, Message.body)
            .where(Message.conversation_id == cid).order_by(Message.created_at, Message.id)
        )).all()  # fmt: skip
        conversations.append({
            "id": cid, "channel": conv.channel, "status": conv.status,
            "opened": conv.created_at.isoformat(),
            "closed": conv.closed_at.isoformat() if conv.closed_at else None,
            "messages": [{"at": at.isoformat(), "direction": d, "sender": s, "text": b}
                         for at, d, s, b in messages],
        })  # fmt: skip
    csat = (await db.execute(select(CsatResponse.conversation_id, CsatResponse.score,
            CsatResponse.answered_at).where(CsatResponse.conversation_id.in_(ids or [0])))).all()  # fmt: skip
    data = {
        "customer": {"bank_customer_no": customer.bank_customer_no, "tier": customer.tier,
                     "region": customer.region},
        "identities": [{"kind": k, "value": v} for k, v in identities],
        "conversations": conversations,
        "csat": [{"conversation": c, "score": s, "at": at.isoformat()} for c, s, at in csat],
    }  # fmt: skip
    db.add(PrivacyRequest(customer_id=customer.id, bank_customer_no=customer.bank_customer_no,
                          kind="export", state="done", requested_by=actor,
                          result={"conversations": len(ids)}))  # fmt: skip
    await audit(db, actor=actor, action="privacy.export", target=f"customer:{customer.id}",
                details={"conversations": len(ids)})  # fmt: skip
    return data


async def erase_customer(db: AsyncSession, bank_customer_no: str, *, actor: str) -> PrivacyRequest:
    """Erases what the service centre keeps about a customer (PIPL's right to deletion):
    conversations and messages, the channels' copies for their addresses, bound identities,
    subscriptions, the customer's entries in behaviour analytics' saved segments and clustering
    runs, and the customer record. Refused under a hold on the customer; a held
    conversation is kept and reported. Consent records are evidence the bank must keep and
    stay, detached from the customer. The caller commits."""
    customer = await _customer(db, bank_customer_no)
    customers, held_conversations = await _active_holds(db)
    if customer.id in customers:
        request = PrivacyRequest(customer_id=customer.id, bank_customer_no=bank_customer_no,
                                 kind="erasure", state="refused", requested_by=actor,
                                 result={"reason": "customer under legal hold"})  # fmt: skip
        db.add(request)
        await audit(db, actor=actor, action="privacy.erasure_refused",
                    target=f"customer:{customer.id}", details={"reason": "legal hold"})  # fmt: skip
        return request
    addresses = list((await db.scalars(select(ChannelIdentity.value).where(
        ChannelIdentity.customer_id == customer.id))).all())  # fmt: skip
    ids = await _conversation_ids(db, customer, addresses)
    kept = [i for i in ids if i in held_conversations]
    gone = [i for i in ids if i not in held_conversations]
    await search.forget_conversations(db, gone)  # the words' counts go with the postings
    await _delete_ids(db, Conversation, Conversation.id, gone)
    kept_addresses = set((await db.scalars(select(Conversation.contact).where(
        Conversation.id.in_(kept or [0])))).all())  # fmt: skip
    erasable = [a for a in addresses if a not in kept_addresses]
    present = await _tables(db)
    copies = 0
    for name, tbl, address in (("sms_messages", _SMS, _SMS.c.phone),
                               ("webchat_sessions", _WEBCHAT, _WEBCHAT.c.address),
                               ("wechat_inbound", _WECHAT, _WECHAT.c.openid)):  # fmt: skip
        if name in present and erasable:
            result = await db.execute(delete(tbl).where(address.in_(erasable)))
            copies += result.rowcount or 0
    turns = 0
    keys = await _turn_keys(db, erasable)
    if keys:
        result = await db.execute(delete(SelfServiceTurn).where(SelfServiceTurn.customer.in_(keys)))
        turns = result.rowcount or 0
    listed = 0
    for members in _CUSTOMER_LISTS:
        if members.name in present:
            result = await db.execute(
                delete(members).where(members.c.customer_no == bank_customer_no)
            )
            listed += result.rowcount or 0
    result_data = {"conversations_erased": len(gone), "conversations_held": kept,
                   "channel_copies_erased": copies, "identities_erased": len(addresses),
                   "selfservice_turns_erased": turns,
                   "customer_list_entries_erased": listed}  # fmt: skip
    if kept:
        await db.execute(delete(ChannelIdentity).where(ChannelIdentity.customer_id == customer.id))
        # The record stays: the held conversations point at it.
        result_data["customer_record"] = "kept for the held conversations"
    else:
        await db.delete(customer)
    request = PrivacyRequest(customer_id=customer.id if kept else None,
                             bank_customer_no=bank_customer_no, kind="erasure", state="done",
                             requested_by=actor, result=result_data)  # fmt: skip
    db.add(request)
    await db.flush()
    await audit(db, actor=actor, action="privacy.erasure", target=f"customer:{customer.id}",
                details=result_data)  # fmt: skip
    return request
