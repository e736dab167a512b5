"""Every change on the crisis desk goes through here: alerts stored once per burst, their
acknowledgement, escalation (by a person, or by the clock when nobody acknowledged), batch
replies to a topic's posts with the playbook's approval rule, and escalation records
(升级上报) with their outcome. Each action is audited in the caller's transaction.

Functions take the session and keyword arguments and never commit: the caller's transaction
holds the change and its audit entry together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.social.crisis import playbooks
from kefu.social.crisis.models import (
    ESCALATION_TEAMS,
    CrisisAlert,
    CrisisEscalation,
    CrisisReply,
    CrisisStatement,
)
from kefu.social.detector import BurstAlert
from kefu.social.models import SocialPost
from kefu.workspace import service as workspace

MODES = ("comment", "dm")  # a public comment under the post, or a private message (私信)
MAX_POST_IDS = 2000  # kept per alert; the volume counts on beyond it
MAX_NOTE = 2000


class CrisisError(ValueError):
    """A refused action, with the HTTP status the desk answers."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# -- alerts ----------------------------------------------------------------------------------------


def related_of(alert: BurstAlert) -> tuple[str, ...]:
    return tuple(getattr(alert, "related", ()) or ())


async def same_burst(db: AsyncSession, alert: BurstAlert, gap: timedelta) -> CrisisAlert | None:
    """The stored alert this one is part of: one still seen within ``gap`` of this one's start
    (a detector restarted mid-burst estimates a slightly different start) with the same term,
    or else naming this term among its related ones or named by one of this one's (the same
    crisis led by another of its words after a restart)."""
    rows = (
        await db.scalars(
            select(CrisisAlert)
            .where(
                CrisisAlert.started_at <= alert.raised_at,
                CrisisAlert.last_seen_at >= alert.started_at - gap,
            )
            .order_by(CrisisAlert.id.desc())
            .with_for_update()
        )
    ).all()
    related = set(related_of(alert))
    same = [r for r in rows if r.term == alert.term]
    kin = [r for r in rows if r.term in related or alert.term in (r.related or [])]
    return (same or kin or [None])[0]


async def store_alert(
    db: AsyncSession, alert: BurstAlert, *, post_ids: Sequence[int], gap: timedelta,
    now: datetime,
) -> tuple[CrisisAlert, bool]:  # fmt: skip
    """Stores ``alert`` or folds it into the row of the same burst; True when it is new (the
    caller then notifies the on-duty supervisors)."""
    row = await same_burst(db, alert, gap)
    if row is not None:
        row.volume = max(row.volume, alert.volume)
        row.reach = max(row.reach, alert.reach)
        row.level = max(row.level, alert.level)
        row.negativity = alert.negativity if alert.volume >= row.volume else row.negativity
        row.last_seen_at = max(row.last_seen_at, alert.raised_at)
        row.post_ids = _merge_ids(row.post_ids, post_ids)
        if row.term != alert.term:
            row.related = list(dict.fromkeys([*(row.related or []), alert.term]))[:10]
        row.updated_at = now
        return row, False
    related = [t[:64] for t in related_of(alert)][:10]
    book = playbooks.for_terms([alert.term, *related])
    row = CrisisAlert(
        term=alert.term[:64], playbook=book.name, started_at=alert.started_at,
        raised_at=alert.raised_at, last_seen_at=alert.raised_at, volume=alert.volume,
        negativity=alert.negativity, reach=alert.reach, level=alert.level, related=related,
        post_ids=_merge_ids([], post_ids), state="open", notice_level=0, notified_at=now,
        created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:  # another worker stored the same (term, start) a moment ago
        found = await same_burst(db, alert, gap)
        assert found is not None
        return found, False
    await record(db, actor="system", action="crisis.alert", target=f"crisis_alert:{row.id}",
                 details={"term": row.term, "volume": row.volume, "level": row.level})  # fmt: skip
    return row, True


def _merge_ids(old: Iterable[int], new: Iterable[int]) -> list[int]:
    return list(dict.fromkeys([*old, *new]))[:MAX_POST_IDS]


def fold_post(
    row: CrisisAlert, post_id: int, *, at: datetime, negative: bool, reach: float
) -> bool:
    """Counts a later post of an alert's term into it (volume, negativity, reach); False when
    it was counted already (a replayed stream)."""
    if post_id in row.post_ids:
        return False
    negatives = row.negativity * row.volume + (1 if negative else 0)
    row.volume += 1
    row.negativity = negatives / row.volume
    row.reach += reach
    row.last_seen_at = max(row.last_seen_at, at)
    row.post_ids = _merge_ids(row.post_ids, [post_id])
    return True


async def _alert(db: AsyncSession, alert_id: int) -> CrisisAlert:
    row = await db.get(CrisisAlert, alert_id, with_for_update=True)
    if row is None:
        raise CrisisError(f"no alert {alert_id}", 404)
    return row


async def acknowledge(db: AsyncSession, alert_id: int, *, actor: str, now: datetime) -> CrisisAlert:
    """Someone has it: the clock stops (no escalation). Acknowledging twice keeps the first."""
    row = await _alert(db, alert_id)
    if row.state == "closed":
        raise CrisisError("this alert is closed", 409)
    if row.acknowledged_at is None:
        row.state, row.acknowledged_by, row.acknowledged_at = "acknowledged", actor, now
        row.updated_at = now
        await record(db, actor=actor, action="crisis.acknowledge",
                     target=f"crisis_alert:{row.id}", details={"term": row.term})  # fmt: skip
    return row


async def escalate(
    db: AsyncSession, alert_id: int, *, actor: str, now: datetime
) -> CrisisAlert | None:
    """Sends the alert to the next level (the escalation list); None when it is there
    already. ``actor`` "system" is the clock."""
    row = await _alert(db, alert_id)
    if row.state == "closed":
        raise CrisisError("this alert is closed", 409)
    if row.notice_level >= 1:
        return None
    row.notice_level, row.notified_at = 1, now
    row.escalated_by, row.escalated_at = actor, now
    if row.acknowledged_at is None:
        row.state = "escalated"
    row.updated_at = now
    await record(db, actor=actor, action="crisis.escalate", target=f"crisis_alert:{row.id}",
                 details={"term": row.term, "level": 1})  # fmt: skip
    return row


async def overdue(db: AsyncSession, *, now: datetime, ack_after: timedelta) -> list[int]:
    """Alerts nobody acknowledged within ``ack_after`` of their notice, still at level 0."""
    rows = await db.scalars(
        select(CrisisAlert.id).where(
            CrisisAlert.state == "open",
            CrisisAlert.notice_level == 0,
            CrisisAlert.notified_at <= now - ack_after,
        )
    )
    return list(rows)


async def close(db: AsyncSession, alert_id: int, *, actor: str, now: datetime) -> CrisisAlert:
    row = await _alert(db, alert_id)
    if row.state != "closed":
        row.state, row.closed_by, row.closed_at, row.updated_at = "closed", actor, now, now
        await record(db, actor=actor, action="crisis.close", target=f"crisis_alert:{row.id}",
                     details={"term": row.term})  # fmt: skip
    return row


async def active_alerts(db: AsyncSession) -> list[CrisisAlert]:
    """Open and escalated first (nobody has them), then acknowledged; newest first."""
    rows = (await db.scalars(select(CrisisAlert).where(CrisisAlert.state != "closed"))).all()
    return sorted(rows, key=lambda a: (a.state == "acknowledged", -a.id))


async def unacknowledged(db: AsyncSession) -> int:
    return (
        await db.scalar(
            select(func.count())
            .select_from(CrisisAlert)
            .where(CrisisAlert.state.in_(("open", "escalated")))
        )
        or 0
    )


# -- a topic's posts -------------------------------------------------------------------------------


SEPARATOR = "·"  # a board topic's label joins its terms: "信用卡·盗刷" (kefu.social.topics)


def alert_label(alert: CrisisAlert) -> str:
    """What an alert's topic page shows: its term with the term most of its posts also carry
    (信用卡·盗刷), so a general word like 信用卡 does not pull in every card post."""
    related = [t for t in (alert.related or []) if SEPARATOR not in t]
    return SEPARATOR.join([alert.term, related[0]]) if related else alert.term


def label_terms(label: str) -> list[str]:
    return [t for t in label.split(SEPARATOR) if t]


def post_terms(post: SocialPost) -> set[str]:
    return {*(post.keywords or []), post.topic}


def carries(post: SocialPost, label: str) -> bool:
    """A post is about a topic when it has each of the label's terms (an alert's one term, a
    board topic's two) as a keyword, as its topic, or in its text."""
    if post.topic == label:
        return True
    terms = post_terms(post)
    return all(t in terms or t in post.text for t in label_terms(label))


async def topic_posts(
    db: AsyncSession, label: str, *, since: datetime, limit: int = 2000
) -> list[SocialPost]:
    """The posts about ``label`` received since ``since``, newest first, spam left out. The
    SQL narrows by the label's rarest-looking (longest) term in the text or the topic; a
    keyword is a word of the text, so ``carries`` decides on what is left."""
    terms = label_terms(label) or [label]
    probe = max(terms, key=len)
    rows = await db.scalars(
        select(SocialPost)
        .where(
            SocialPost.received_at >= since,
            SocialPost.spam.is_(False),
            or_(SocialPost.topic.in_([label, *terms]),
                SocialPost.text.contains(probe, autoescape=True)),
        )
        .order_by(SocialPost.id.desc())
        .limit(limit)
    )  # fmt: skip
    return [p for p in rows.all() if carries(p, label)]


# -- batch replies (public statements and private messages) ---------------------------------------


@dataclass(frozen=True)
class Maker:
    """Who asks for a batch reply (the desk's caller)."""

    id: int
    name: str
    display_name: str
    may_approve: bool  # holds CRISIS_MANAGE (approves others' statements, never their own)


async def propose(
    db: AsyncSession, *, term: str, mode: str, body: str, request_key: str, maker: Maker,
    alert_id: int | None, now: datetime,
) -> CrisisStatement:  # fmt: skip
    """Records a batch reply to every post of ``term``. A public one whose playbook requires
    approval waits (state pending) for someone else's; otherwise the caller sends it
    (``send``). The same ``request_key`` (a double click, a retried form) finds the first."""
    existing = await db.scalar(
        select(CrisisStatement).where(CrisisStatement.request_key == request_key)
    )
    if existing is not None:
        return existing
    if mode not in MODES:
        raise CrisisError(f"mode: one of {list(MODES)}")
    body = body.strip()
    if not body or len(body) > workspace.MAX_REPLY:
        raise CrisisError(f"the reply needs 1–{workspace.MAX_REPLY} characters")
    try:
        workspace.template_variables(body)
    except workspace.WorkspaceError as exc:
        raise CrisisError(str(exc)) from None
    if not term.strip() or len(term) > 64:
        raise CrisisError("term: 1–64 characters")
    if not 8 <= len(request_key) <= 64:
        raise CrisisError("request_key: 8–64 characters (the form's one-time key)")
    book = playbooks.for_terms(label_terms(term) or [term])
    needs = book.needs_approval(mode)
    row = CrisisStatement(
        request_key=request_key, term=term, alert_id=alert_id, playbook=book.name, mode=mode,
        body=body, needs_approval=needs, state="pending" if needs else "approved",
        created_by=maker.name, created_by_id=maker.id, created_at=now, skipped={},
    )  # fmt: skip
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:  # the other click of a double click got there first
        found = await db.scalar(
            select(CrisisStatement).where(CrisisStatement.request_key == request_key)
        )
        assert found is not None
        return found
    await record(db, actor=maker.name, action="crisis.statement", target=f"crisis_statement:{row.id}",
                 details={"term": term, "mode": mode, "needs_approval": needs})  # fmt: skip
    return row


async def review(
    db: AsyncSession, statement_id: int, *, actor: str, approve: bool, note: str, now: datetime
) -> CrisisStatement:
    """Approve or reject a pending statement: never by the person who wrote it (maker-checker,
    as SMS templates in kefu.outbound.templates)."""
    row = await db.get(CrisisStatement, statement_id, with_for_update=True)
    if row is None:
        raise CrisisError(f"no statement {statement_id}", 404)
    if row.state != "pending":
        raise CrisisError(f"only a pending statement is reviewed (this one is {row.state})", 409)
    if actor == row.created_by:
        raise CrisisError("the author may not approve their own statement", 403)
    note = note.strip()
    if not approve and not note:
        raise CrisisError("say why the statement is rejected")
    if len(note) > 500:
        raise CrisisError("note: at most 500 characters")
    row.state = "approved" if approve else "rejected"
    row.reviewed_by, row.reviewed_at, row.review_note = actor, now, note or None
    await record(db, actor=actor, action="crisis.approve" if approve else "crisis.reject",
                 target=f"crisis_statement:{row.id}", details={"term": row.term, "note": note})  # fmt: skip
    return row


async def send(
    db: AsyncSession, statement_id: int, *, bank: object, since: datetime, now: datetime
) -> CrisisStatement:
    """Sends an approved statement: one agent reply per conversation among the topic's
    posts, through the workspace's reply (the channel relays it; nothing here talks to a
    channel). Each conversation is answered at most once whatever is retried: the statement
    row is locked, and ``crisis_replies`` is unique per (statement, conversation)."""
    row = await db.get(CrisisStatement, statement_id, with_for_update=True)
    if row is None:
        raise CrisisError(f"no statement {statement_id}", 404)
    if row.state == "sent":
        return row
    if row.state != "approved":
        needs = "needs a second person's approval" if row.state == "pending" else "was rejected"
        raise CrisisError(f"this public statement {needs}", 409)
    done = set(
        await db.scalars(
            select(CrisisReply.conversation_id).where(CrisisReply.statement_id == row.id)
        )
    )
    skipped: dict[str, str] = {}
    by_conversation: dict[int, int] = {}
    for post in await topic_posts(db, row.term, since=since):
        if post.conversation_id is None:
            skipped[str(post.id)] = "not engaged: no conversation"
        else:
            by_conversation.setdefault(post.conversation_id, post.id)
    sent = 0
    # {agent} in a script is the name customers see: the writer's display name, not a login.
    author = await db.get(Agent, row.created_by_id)
    agent_name = author.display_name if author is not None else row.created_by
    for conversation_id, post_id in sorted(by_conversation.items()):
        if conversation_id in done:
            continue
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None:
            continue
        try:
            text = await workspace.personalise(
                db, row.body, conversation=conversation, bank=bank,  # type: ignore[arg-type]
                agent_name=agent_name,
            )  # fmt: skip
            # The channel sends it as chosen where it offers the choice (Weibo: comment or
            # 私信); elsewhere there is one way and the channel takes it.
            offered = workspace.REPLY_MODES.get(conversation.channel, ())
            message = await workspace.reply(
                db, conversation=conversation, agent_id=row.created_by_id, body=text, now=now,
                reply_mode=row.mode if row.mode in offered else None,
            )  # fmt: skip
        except workspace.WorkspaceError as exc:
            skipped[f"conversation:{conversation_id}"] = str(exc)
            continue
        db.add(CrisisReply(statement_id=row.id, conversation_id=conversation_id,
                           post_id=post_id, message_id=message.id))  # fmt: skip
        sent += 1
    await db.flush()
    row.state, row.sent_at = "sent", now
    row.sent_count += sent
    row.skipped = skipped
    await record(db, actor=row.created_by, action="crisis.batch_reply",
                 target=f"crisis_statement:{row.id}",
                 details={"term": row.term, "mode": row.mode, "sent": sent, "skipped": len(skipped)})  # fmt: skip
    return row


async def statements(db: AsyncSession, *, limit: int = 50) -> list[CrisisStatement]:
    return list(
        (
            await db.scalars(
                select(CrisisStatement).order_by(CrisisStatement.id.desc()).limit(limit)
            )
        ).all()
    )


# -- escalation records (升级上报) ------------------------------------------------------------------


async def report(
    db: AsyncSession, *, term: str, team: str, note: str, actor: str, alert_id: int | None,
    now: datetime,
) -> CrisisEscalation:  # fmt: skip
    if team not in ESCALATION_TEAMS:
        raise CrisisError(f"team: one of {list(ESCALATION_TEAMS)}")
    note = note.strip()
    if not note or len(note) > MAX_NOTE:
        raise CrisisError(f"note: 1–{MAX_NOTE} characters")
    if not term.strip() or len(term) > 64:
        raise CrisisError("term: 1–64 characters")
    if alert_id is not None and await db.get(CrisisAlert, alert_id) is None:
        raise CrisisError(f"no alert {alert_id}", 404)
    row = CrisisEscalation(term=term, alert_id=alert_id, team=team, note=note,
                           created_by=actor, created_at=now)  # fmt: skip
    db.add(row)
    await db.flush()
    await record(db, actor=actor, action="crisis.report", target=f"crisis_escalation:{row.id}",
                 details={"term": term, "team": team})  # fmt: skip
    return row


async def record_outcome(
    db: AsyncSession, escalation_id: int, *, outcome: str, actor: str, now: datetime
) -> CrisisEscalation:
    row = await db.get(CrisisEscalation, escalation_id, with_for_update=True)
    if row is None:
        raise CrisisError(f"no escalation {escalation_id}", 404)
    if row.outcome is not None:
        raise CrisisError("its outcome is recorded already", 409)
    outcome = outcome.strip()
    if not outcome or len(outcome) > MAX_NOTE:
        raise CrisisError(f"outcome: 1–{MAX_NOTE} characters")
    row.outcome, row.outcome_by, row.outcome_at = outcome, actor, now
    await record(db, actor=actor, action="crisis.outcome", target=f"crisis_escalation:{row.id}",
                 details={"term": row.term, "team": row.team})  # fmt: skip
    return row


async def escalations(db: AsyncSession, *, limit: int = 50) -> list[CrisisEscalation]:
    return list(
        (
            await db.scalars(
                select(CrisisEscalation).order_by(CrisisEscalation.id.desc()).limit(limit)
            )
        ).all()
    )


def board_since(now: datetime | None, hours: int) -> datetime:
    return (now or utcnow()) - timedelta(hours=hours)
