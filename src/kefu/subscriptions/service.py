"""Subscription services (定制): what a customer asked to be told, per service and channel.

Three services: the monthly bill is ready (a statement was issued), a repayment reminder N
days before the due date, and balance-change alerts for movements of at least an amount.
Every change is audited. Channels call :func:`is_subscribed` / :func:`list_subscriptions`;
the SMS hall parses "DY ZD", "DY HK 5", "TD YE"… with :func:`parse_request`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.db.base import utcnow
from kefu.language.normalize import normalize
from kefu.subscriptions.models import Subscription
from kefu.vocabulary import Channel


class Service(StrEnum):
    BILL_READY = "bill_ready"
    REPAYMENT_REMINDER = "repayment_reminder"
    BALANCE_ALERT = "balance_alert"


# The short codes customers text; the same letters as the hall's query commands (ZD, HK, YE).
CODES: dict[Service, str] = {
    Service.BILL_READY: "ZD",
    Service.REPAYMENT_REMINDER: "HK",
    Service.BALANCE_ALERT: "YE",
}
# Where notices can go: SMS today (the scheduler sends these); WeChat's channel reads the
# same table through is_subscribed/list_subscriptions.
CHANNELS = (Channel.SMS.value, Channel.WECHAT.value)
DAYS_BEFORE_DEFAULT, DAYS_BEFORE_MIN, DAYS_BEFORE_MAX = 3, 1, 10
THRESHOLD_DEFAULT = Decimal("1000")
THRESHOLD_MIN, THRESHOLD_MAX = Decimal("1"), Decimal("1000000")  # yuan


class SubscriptionError(ValueError):
    """A parameter out of bounds; ``field`` names it for the API's problem+json."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SubscriptionView:
    service: Service
    channel: str
    days_before: int | None
    threshold: Decimal | None  # yuan
    since: datetime


def _view(row: Subscription) -> SubscriptionView:
    threshold = None
    if row.threshold_fen is not None:
        threshold = (Decimal(row.threshold_fen) / 100).quantize(Decimal("0.01"))
    return SubscriptionView(
        Service(row.service), row.channel, row.days_before, threshold, row.created_at
    )


def check_params(
    service: Service, days_before: int | None, threshold: Decimal | None
) -> tuple[int | None, int | None]:
    """The stored (days_before, threshold_fen) for a service, defaults filled in; raises
    :class:`SubscriptionError` for a value out of bounds or one the service does not take."""
    if service is Service.REPAYMENT_REMINDER:
        if threshold is not None:
            raise SubscriptionError("threshold", "only balance alerts take a threshold")
        days = DAYS_BEFORE_DEFAULT if days_before is None else days_before
        if not DAYS_BEFORE_MIN <= days <= DAYS_BEFORE_MAX:
            raise SubscriptionError(
                "days_before", f"must be {DAYS_BEFORE_MIN} to {DAYS_BEFORE_MAX} days"
            )
        return days, None
    if days_before is not None:
        raise SubscriptionError("days_before", "only repayment reminders take days_before")
    if service is Service.BALANCE_ALERT:
        amount = THRESHOLD_DEFAULT if threshold is None else threshold
        if not amount.is_finite() or not THRESHOLD_MIN <= amount <= THRESHOLD_MAX:
            raise SubscriptionError(
                "threshold", f"must be ¥{THRESHOLD_MIN:,} to ¥{THRESHOLD_MAX:,}"
            )
        if amount != amount.quantize(Decimal("0.01")):
            raise SubscriptionError("threshold", "at most two decimal places (fen)")
        return None, int(amount * 100)
    if threshold is not None:
        raise SubscriptionError("threshold", "only balance alerts take a threshold")
    return None, None


async def _row(
    db: AsyncSession, customer_id: int, service: Service, channel: str
) -> Subscription | None:
    return await db.scalar(
        select(Subscription).where(
            Subscription.customer_id == customer_id,
            Subscription.service == service.value,
            Subscription.channel == channel,
        )
    )


async def is_subscribed(db: AsyncSession, customer_id: int, service: Service, channel: str) -> bool:
    return await _row(db, customer_id, Service(service), channel) is not None


async def list_subscriptions(
    db: AsyncSession, customer_id: int, channel: str | None = None
) -> list[SubscriptionView]:
    """The customer's subscriptions (one channel's, or all), in service then channel order."""
    query = select(Subscription).where(Subscription.customer_id == customer_id)
    if channel is not None:
        query = query.where(Subscription.channel == channel)
    rows = (await db.scalars(query)).all()
    order = list(Service)
    return [
        _view(r) for r in sorted(rows, key=lambda r: (order.index(Service(r.service)), r.channel))
    ]


async def subscribe(
    db: AsyncSession,
    *,
    customer_id: int,
    service: Service,
    channel: str,
    actor: str,
    days_before: int | None = None,
    threshold: Decimal | None = None,
) -> SubscriptionView:
    """Subscribes, or changes the parameters of an existing subscription (audited either way;
    a repeat with the same values changes nothing and writes nothing)."""
    service = Service(service)
    days, threshold_fen = check_params(service, days_before, threshold)
    row = await _row(db, customer_id, service, channel)
    if row is None:
        row = Subscription(
            customer_id=customer_id, service=service.value, channel=channel,
            days_before=days, threshold_fen=threshold_fen,
        )  # fmt: skip
        db.add(row)
        action = "subscription.subscribe"
    elif (row.days_before, row.threshold_fen) != (days, threshold_fen):
        row.days_before, row.threshold_fen, row.updated_at = days, threshold_fen, utcnow()
        action = "subscription.change"
    else:
        return _view(row)
    await db.flush()
    await record(db, actor=actor, action=action, target=f"customer:{customer_id}",
                 details={"service": service.value, "channel": channel, "days_before": days,
                          "threshold_fen": threshold_fen})  # fmt: skip
    return _view(row)


async def unsubscribe(
    db: AsyncSession, *, customer_id: int, service: Service, channel: str, actor: str
) -> bool:
    """True when there was a subscription to end."""
    row = await _row(db, customer_id, Service(service), channel)
    if row is None:
        return False
    await db.delete(row)
    await db.flush()
    await record(db, actor=actor, action="subscription.unsubscribe",
                 target=f"customer:{customer_id}",
                 details={"service": row.service, "channel": channel})  # fmt: skip
    return True


async def unsubscribe_all(
    db: AsyncSession, *, customer_id: int, channel: str, actor: str
) -> list[Service]:
    """Ends every subscription on one channel (a plain TD); returns what was ended."""
    ended = []
    for view in await list_subscriptions(db, customer_id, channel):
        await unsubscribe(db, customer_id=customer_id, service=view.service, channel=channel,
                          actor=actor)  # fmt: skip
        ended.append(view.service)
    return ended


@dataclass(frozen=True)
class Wanted:
    service: Service
    channel: str
    days_before: int | None = None
    threshold: Decimal | None = None


async def replace_subscriptions(
    db: AsyncSession, *, customer_id: int, wanted: list[Wanted], actor: str
) -> list[SubscriptionView]:
    """Makes the customer's subscriptions exactly ``wanted`` (the API's PUT). Every entry is
    checked before anything changes, so a bad one leaves the old set untouched."""
    seen = set()
    for i, w in enumerate(wanted):
        if (w.service, w.channel) in seen:
            raise SubscriptionError(f"subscriptions.{i}", "service and channel listed twice")
        seen.add((w.service, w.channel))
        try:
            check_params(w.service, w.days_before, w.threshold)
        except SubscriptionError as exc:
            raise SubscriptionError(f"subscriptions.{i}.{exc.field}", exc.message) from None
    for view in await list_subscriptions(db, customer_id):
        if (view.service, view.channel) not in seen:
            await unsubscribe(db, customer_id=customer_id, service=view.service,
                              channel=view.channel, actor=actor)  # fmt: skip
    for w in wanted:
        await subscribe(db, customer_id=customer_id, service=w.service, channel=w.channel,
                        actor=actor, days_before=w.days_before, threshold=w.threshold)  # fmt: skip
    return await list_subscriptions(db, customer_id)


# --- requests by text (SMS, and any channel that takes typed commands) --------------------

MARKETING = "marketing"  # "DY YX" / "TD YX": the bank's offers, not a subscription service
_WORDS: dict[str, Service | str] = {
    "zd": Service.BILL_READY, "账单": Service.BILL_READY,
    "hk": Service.REPAYMENT_REMINDER, "还款": Service.REPAYMENT_REMINDER,
    "ye": Service.BALANCE_ALERT, "余额": Service.BALANCE_ALERT,
    "dz": Service.BALANCE_ALERT, "动账": Service.BALANCE_ALERT,
    "yx": MARKETING, "营销": MARKETING, "优惠": MARKETING,
}  # fmt: skip
_REQUEST = re.compile(
    r"^(?P<verb>dy|td|订阅|定制|开通|退订|取消订阅|取消)\s*"
    r"(?P<rest>[a-z\u4e00-\u9fff]*?)\s*(?:提醒|通知|服务|短信|活动)?\s*"
    r"(?P<number>\d[\d,]*(?:\.\d+)?)?\s*(?:天|日|元|块)?$"
)


# Only with a known service are these about subscriptions; DY/TD/订阅/退订 always are.
_WEAK_VERBS = frozenset({"定制", "开通", "取消", "取消订阅"})


@dataclass(frozen=True)
class TextRequest:
    """What "DY …" / "TD …" asked for. ``target`` is a :class:`Service`, :data:`MARKETING`,
    None (plain DY: the menu; plain TD: stop everything) or ``"?"`` (a code we do not know)."""

    subscribe: bool
    target: Service | str | None
    number: Decimal | None = None


def parse_request(text: str) -> TextRequest | None:
    """Parses a subscribe/unsubscribe text; None when the text is not one (e.g. "T", "R",
    which the language model already reads as plain unsubscribe)."""
    m = _REQUEST.match(normalize(text))
    if m is None:
        return None
    verb, rest = m["verb"], m["rest"]
    subscribe = verb in ("dy", "订阅", "定制", "开通")
    known = (v for k, v in _WORDS.items() if rest.startswith(k))
    target: Service | str | None = next(known, "?") if rest else None
    if verb in _WEAK_VERBS and target in (None, "?"):
        return None  # "取消挂失", "开通网银": other commands, not about subscriptions
    number = None
    if m["number"]:
        try:
            number = Decimal(m["number"].replace(",", ""))
        except InvalidOperation:
            target = "?"
    if target is None and number is not None:
        target = "?"  # "DY 5": a number with no service
    return TextRequest(subscribe, target, number)
