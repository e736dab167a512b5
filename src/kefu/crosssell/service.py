"""The next best offer for a conversation's customer, and recording what came of an offer."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankPort
from kefu.conversations.models import Conversation, Message
from kefu.crosssell import training
from kefu.crosssell.arbitration import REFUSAL_DAYS, Decision, Policy, decide
from kefu.crosssell.features import facts_from_bank
from kefu.crosssell.models import OUTCOMES, OfferOutcome, RiskAssessment
from kefu.crosssell.training import Models
from kefu.language.sentiment import analyse_sentiment

STALE_AFTER = timedelta(days=180)  # customers' holdings move; an older model is out of date
SENTIMENT_MESSAGES = 3  # the customer's latest messages read for the mood of the conversation
COMPLAINT_INTENT = "complaint"


@dataclass
class ModelState:
    models: Models | None
    problem: str | None  # why there are no (or only out-of-date) scores, in Chinese


@functools.lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> Models:
    del mtime  # part of the cache key: a retrained file is read again
    return training.Models.load(path)


def model_state(path: Path | None = None, *, now: datetime | None = None) -> ModelState:
    path = path or training.MODEL_FILE
    try:
        models = _load(path, path.stat().st_mtime)
    except FileNotFoundError:
        return ModelState(None, "推荐模型文件缺失，暂无推荐（运行 kefu crosssell train）")
    except Exception as exc:  # a damaged or foreign file must not take the workspace down
        return ModelState(None, f"推荐模型无法读取，暂无推荐：{type(exc).__name__}")
    if (now or datetime.now(UTC)) - models.trained_at > STALE_AFTER:
        return ModelState(models, f"推荐模型训练于 {models.trained_at:%Y-%m-%d}，已过期，仅供参考")
    return ModelState(models, None)


async def policy_for(
    session: AsyncSession, customer_no: str, conversation: Conversation | None, now: datetime
) -> Policy:
    month_ago, refusal_since = now - timedelta(days=30), now - timedelta(days=REFUSAL_DAYS)
    offered = await session.scalar(
        select(func.count()).select_from(OfferOutcome).where(
            OfferOutcome.customer_no == customer_no, OfferOutcome.outcome == "offered",
            OfferOutcome.recorded_at >= month_ago)
    )  # fmt: skip
    refused = await session.scalars(
        select(OfferOutcome.product_code).where(
            OfferOutcome.customer_no == customer_no,
            OfferOutcome.outcome.in_(("declined", "not_suitable")),
            OfferOutcome.recorded_at >= refusal_since)
    )  # fmt: skip
    complaint = False
    negative = False
    if conversation is not None and conversation.customer_id is not None:
        complaint = bool(await session.scalar(
            select(func.count()).select_from(Conversation).where(
                Conversation.customer_id == conversation.customer_id,
                Conversation.intent == COMPLAINT_INTENT, Conversation.created_at >= month_ago)
        ))  # fmt: skip
        texts = await session.scalars(
            select(Message.body).where(Message.conversation_id == conversation.id,
                                       Message.direction == "in", Message.sender_type == "customer")
            .order_by(Message.id.desc()).limit(SENTIMENT_MESSAGES)
        )  # fmt: skip
        negative = any(analyse_sentiment(t).label == "negative" for t in texts)
    return Policy(
        offers_last_30_days=offered or 0,
        refused_recently=frozenset(refused),
        open_complaint=complaint,
        negative_sentiment=negative,
    )


@dataclass
class Panel:
    decision: Decision | None
    problem: str | None  # model missing / stale / bank unreachable


async def offers_for(
    session: AsyncSession,
    bank: BankPort,
    customer_no: str,
    *,
    conversation: Conversation | None = None,
    state: ModelState | None = None,
    today: date | None = None,
) -> Panel:
    """Raises the bank port's NotFound / BankError (the caller says so on the panel)."""
    state = state or model_state()
    if state.models is None:
        return Panel(None, state.problem)
    now = datetime.now(UTC)
    assessment = await session.get(RiskAssessment, customer_no)
    facts = await facts_from_bank(
        bank, customer_no, today=today or now.date(),
        risk_level=assessment.level if assessment else None,
        assessed_on=assessment.assessed_on if assessment else None,
    )  # fmt: skip
    products = await bank.list_products()
    policy = await policy_for(session, customer_no, conversation, now)
    return Panel(decide(products, facts, state.models, policy), state.problem)


class BadOutcome(ValueError):
    pass


async def record_outcome(
    session: AsyncSession,
    *,
    customer_no: str,
    product_code: str,
    outcome: str,
    conversation_id: int | None,
    agent_id: int | None,
    now: datetime | None = None,
) -> bool:
    """Stores the outcome; False when the same outcome was already recorded on this occasion
    (the conversation, or the day without one): recorded twice counts once."""
    if outcome not in OUTCOMES:
        raise BadOutcome(f"outcome must be one of {', '.join(OUTCOMES)}")
    now = now or datetime.now(UTC)
    occasion = f"c{conversation_id}" if conversation_id else f"d{now:%Y-%m-%d}"
    row = OfferOutcome(
        customer_no=customer_no, product_code=product_code, outcome=outcome, occasion=occasion,
        conversation_id=conversation_id, agent_id=agent_id, recorded_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True
