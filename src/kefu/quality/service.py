"""Quality's business: inspect closed conversations, sample them for review, record reviews
and appeals, and collect web chat's star ratings. Each change of a score is audited."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import and_, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record as audit
from kefu.conversations.models import Conversation, Message
from kefu.db.engine import dialect_insert
from kefu.quality import csat
from kefu.quality.inspection import Msg, RuleSet, Sentiment, inspect
from kefu.quality.models import CsatResponse, QaAppeal, QaScore
from kefu.vocabulary import ConversationStatus

# The human review form (QUALITY_REVIEW): each item scored 0..its points; the total is the
# review's score out of 100.
REVIEW_FORM: tuple[tuple[str, str, int], ...] = (
    ("courtesy", "服务态度与礼貌用语", 20),
    ("accuracy", "业务解答准确", 30),
    ("compliance", "合规（核身、承诺、隐私）", 30),
    ("resolution", "问题解决与结束规范", 20),
)


class QualityError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def sampled(conversation_id: int, rate: float) -> bool:
    """Whether a conversation falls in the review sample: a hash of its id, so the choice is
    random across agents and queues yet the same on every run (a re-run samples no more)."""
    digest = hashlib.sha256(f"qa-sample:{conversation_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < rate


async def transcript(db: AsyncSession, conversation_id: int) -> list[Msg]:
    rows = await db.execute(
        select(Message.sender_type, Message.body, Message.created_at)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
    )
    return [Msg(sender or "", body or "", at) for sender, body, at in rows.all()]


async def inspect_pending(
    db: AsyncSession,
    rules: RuleSet,
    *,
    now: datetime,
    sample_rate: float,
    limit: int = 200,
    polarity: Sentiment | None = None,
    offload: bool = False,
) -> int:
    """Scores up to ``limit`` closed conversations not scored yet, oldest close first;
    returns how many. The caller commits."""
    rows = await db.execute(
        select(Conversation.id, Conversation.assigned_agent_id)
        .outerjoin(QaScore, QaScore.conversation_id == Conversation.id)
        .where(Conversation.status == ConversationStatus.CLOSED.value, QaScore.id.is_(None))
        .order_by(Conversation.closed_at, Conversation.id)
        .limit(limit)
    )
    done = 0
    for conversation_id, agent_id in rows.all():
        messages = await transcript(db, conversation_id)
        kwargs: dict[str, Any] = {} if polarity is None else {"polarity": polarity}
        if offload:  # the sentiment model is CPU work: keep the event loop free
            result = await asyncio.to_thread(inspect, messages, rules, **kwargs)
        else:
            result = inspect(messages, rules, **kwargs)
        # Another process's worker may score the same conversation meanwhile: the first
        # row stays (the unique conversation id), this one is dropped.
        added = await db.execute(
            dialect_insert(db, QaScore).values(
                conversation_id=conversation_id, agent_id=agent_id, auto_score=result.score,
                score=result.score, findings=[f.to_dict() for f in result.findings],
                rules_version=result.version, scored_at=now,
                sampled=sampled(conversation_id, sample_rate),
            ).on_conflict_do_nothing(index_elements=["conversation_id"])
        )  # fmt: skip
        done += added.rowcount or 0
    return done


def review_total(form: dict[str, Any]) -> tuple[float, dict[str, int]]:
    """The review form's total out of 100 and its items, each checked against its range."""
    items: dict[str, int] = {}
    for key, label, points in REVIEW_FORM:
        raw = form.get(key)
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise QualityError(f"「{label}」需填写 0–{points} 的整数") from None
        if not 0 <= value <= points:
            raise QualityError(f"「{label}」需填写 0–{points} 的整数")
        items[key] = value
    return float(sum(items.values())), items


async def review(
    db: AsyncSession, score_id: int, form: dict[str, Any], note: str, *, actor: str,
    now: datetime,
) -> QaScore:  # fmt: skip
    row = await db.get(QaScore, score_id)
    if row is None:
        raise QualityError("没有这条质检记录", 404)
    total, items = review_total(form)
    row.review_score, row.review_form, row.review_note = total, items, note.strip()[:1000] or None
    row.reviewed_by, row.reviewed_at, row.score = actor, now, total
    await audit(db, actor=actor, action="quality.review", target=f"conversation:{row.conversation_id}",
                details={"score": total, "auto_score": row.auto_score})  # fmt: skip
    return row


async def appeal(
    db: AsyncSession, score_id: int, reason: str, *, agent_id: int, actor: str
) -> QaAppeal:
    row = await db.get(QaScore, score_id)
    if row is None:
        raise QualityError("没有这条质检记录", 404)
    if row.agent_id != agent_id:
        raise QualityError("只能对自己处理的会话提出申诉", 403)
    reason = reason.strip()
    if not 2 <= len(reason) <= 2000:
        raise QualityError("申诉理由需 2–2000 字")
    if await db.scalar(
        select(QaAppeal.id).where(QaAppeal.qa_score_id == score_id, QaAppeal.state == "open")
    ):
        raise QualityError("这条质检已有待处理的申诉", 409)
    found = QaAppeal(qa_score_id=score_id, agent_id=agent_id, reason=reason, state="open")
    db.add(found)
    await db.flush()
    await audit(db, actor=actor, action="quality.appeal", target=f"qa:{score_id}",
                details={"appeal": found.id})  # fmt: skip
    return found


async def decide(
    db: AsyncSession, appeal_id: int, *, upheld: bool, new_score: float | None, note: str,
    actor: str, now: datetime,
) -> QaAppeal:  # fmt: skip
    found = await db.get(QaAppeal, appeal_id)
    if found is None:
        raise QualityError("没有这条申诉", 404)
    if found.state != "open":
        raise QualityError("这条申诉已处理", 409)
    row = await db.get(QaScore, found.qa_score_id)
    assert row is not None
    if upheld:
        if new_score is None or not 0 <= new_score <= 100:
            raise QualityError("申诉成立时需给出 0–100 的新分数")
        found.new_score, row.score = float(new_score), float(new_score)
    found.state = "upheld" if upheld else "rejected"
    found.decided_by, found.decided_at, found.decision_note = (
        actor,
        now,
        note.strip()[:1000] or None,
    )
    await audit(db, actor=actor, action="quality.appeal_decided", target=f"qa:{row.id}",
                details={"appeal": found.id, "upheld": upheld, "score": row.score})  # fmt: skip
    return found


# Web chat's widget asks with stars and keeps the answer in its own session row; quality reads
# that table by name (a channel's storage, not its code: kefu.quality does not import channels).
_WEBCHAT = table("webchat_sessions", column("conversation_id"), column("csat_score"),
                 column("csat_comment"), column("last_seen_at"))  # fmt: skip


async def collect_webchat_ratings(db: AsyncSession, now: datetime) -> int:
    rows = await db.execute(
        select(_WEBCHAT.c.conversation_id, _WEBCHAT.c.csat_score, _WEBCHAT.c.csat_comment,
               Conversation.assigned_agent_id)
        .join(Conversation, Conversation.id == _WEBCHAT.c.conversation_id)
        .outerjoin(CsatResponse, CsatResponse.conversation_id == _WEBCHAT.c.conversation_id)
        .where(and_(_WEBCHAT.c.csat_score.is_not(None), CsatResponse.id.is_(None)))
        .limit(500)
    )  # fmt: skip
    added = 0
    for conversation_id, score, comment, agent_id in rows.all():
        if 1 <= int(score) <= 5:
            added += await csat.record(db, conversation_id=conversation_id, agent_id=agent_id,
                                       channel="webchat", score=int(score), now=now,
                                       comment=(comment or None))  # fmt: skip
    return added
