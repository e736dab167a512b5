"""The next best offer for a conversation's customer, and recording what came of an offer."""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import Product
from kefu.bank.port import BankPort
from kefu.conversations.models import Conversation, Message
from kefu.crosssell import scores, training
from kefu.crosssell.arbitration import (
    REFUSAL_DAYS,
    Decision,
    Policy,
    decide_stored,
    withheld_by_policy,
)
from kefu.crosssell.models import OUTCOMES, OfferOutcome, OfferScore
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
    # One query for both: the month's offers and the refusals within REFUSAL_DAYS (longer).
    history = (
        await session.execute(
            select(OfferOutcome.product_code, OfferOutcome.outcome, OfferOutcome.recorded_at).where(
                OfferOutcome.customer_no == customer_no,
                OfferOutcome.outcome.in_(("offered", "declined", "not_suitable")),
                OfferOutcome.recorded_at >= min(month_ago, refusal_since),
            )
        )
    ).all()
    offered = sum(1 for _, o, at in history if o == "offered" and at >= month_ago)
    refused = [code for code, o, at in history if o != "offered" and at >= refusal_since]
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
    source: str = "live"  # "precomputed": read from crosssell_scores; "live": scored now


async def offers_for(
    session: AsyncSession,
    bank: BankPort,
    customer_no: str,
    *,
    conversation: Conversation | None = None,
    state: ModelState | None = None,
    today: date | None = None,
    keep: bool = False,
) -> Panel:
    """The customer's row of precomputed scores when it is up to date, else scoring now. The
    contact policy and the hard rules are applied here on today's facts either way
    (kefu.crosssell.scores says what is precomputed and what is live).

    A live score is written back only with ``keep`` (a POST, in the caller's transaction): the
    panel's GET writes nothing, so it can run on a read replica and a page view never takes a
    row lock; ``score-all`` and the outcome POST refresh the rows.
    Raises the bank port's NotFound / BankError (the caller says so on the panel)."""
    state = state or model_state()
    if state.models is None:
        return Panel(None, state.problem)
    models = state.models
    now = datetime.now(UTC)
    facts = await scores.customer_facts(session, bank, customer_no, today or now.date(),
                                        salary=False)  # fmt: skip
    policy = await policy_for(session, customer_no, conversation, now)
    withheld = withheld_by_policy(policy)
    if withheld:
        return Panel(Decision(withheld=withheld), state.problem)
    products = await _products(bank)
    row = await session.get(OfferScore, customer_no)
    if scores.usable(row, models, facts, now):
        assert row is not None
        decision = decide_stored(products, facts, models, policy, scores.loads(row.scores))
        if decision is not None:
            return Panel(decision, state.problem, "precomputed")
    facts = await scores.customer_facts(session, bank, customer_no, facts.today)
    fresh = scores.score_many(models, products, [facts])[0]
    if keep:
        await scores.save(session, models, [(facts, fresh)], now)
    decision = decide_stored(products, facts, models, policy, fresh)
    assert decision is not None  # every product allowed today was just scored
    return Panel(decision, state.problem, "live")


_PRODUCTS_FOR = timedelta(minutes=5)  # the catalogue changes rarely; a panel need not ask
_products_cache: weakref.WeakKeyDictionary[BankPort, tuple[datetime, list[Product]]] = (
    weakref.WeakKeyDictionary()
)


async def _products(bank: BankPort) -> list[Product]:
    now = datetime.now(UTC)
    cached = _products_cache.get(bank)
    if cached is None or now - cached[0] > _PRODUCTS_FOR:
        cached = (now, await bank.list_products())
        _products_cache[bank] = cached
    return cached[1]


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
    if outcome == "accepted":  # the product becomes a holding: score this customer again
        await scores.forget(session, customer_no)
    return True


async def interest_in(session: AsyncSession, conversation_id: int) -> list[str]:
    """The products the customer said they are interested in on this conversation's occasion
    (a web chat banner click hands them to an agent with the outcome recorded against the
    conversation): the panel puts them first, marked."""
    rows = await session.scalars(
        select(OfferOutcome.product_code)
        .where(OfferOutcome.conversation_id == conversation_id,
               OfferOutcome.outcome == "interested", OfferOutcome.agent_id.is_(None))
        .order_by(OfferOutcome.id)
    )  # fmt: skip
    return list(dict.fromkeys(rows.all()))
