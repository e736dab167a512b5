"""Subscriptions over HTTP: the API for the bank's systems and the scheduler's page.

``GET/PUT /api/v1/customers/{customer_no}/subscriptions`` — the customer is named by the
bank's customer number (as in ``/api/v1/customers/{customer_no}``); PUT replaces the whole
set, and a bad entry changes nothing (problem+json naming the field).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort, NotFound
from kefu.identity.binding import ensure_customer
from kefu.identity.models import Customer
from kefu.subscriptions import service as subscriptions
from kefu.subscriptions.scheduler import overview
from kefu.subscriptions.service import (
    CHANNELS,
    DAYS_BEFORE_MAX,
    DAYS_BEFORE_MIN,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    Service,
    SubscriptionError,
)
from kefu.web.deps import DB_SESSION, Principal, csrf_token, get_bank, require
from kefu.web.i18n import gettext_

router = APIRouter()


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Service
    channel: str = Field(default="sms", description=f"One of: {', '.join(CHANNELS)}.")
    days_before: int | None = Field(
        default=None, ge=DAYS_BEFORE_MIN, le=DAYS_BEFORE_MAX,
        description="Repayment reminders: days before the due date (default 3).",
    )  # fmt: skip
    threshold: Decimal | None = Field(
        default=None, ge=THRESHOLD_MIN, le=THRESHOLD_MAX, decimal_places=2,
        description="Balance alerts: the smallest movement in yuan that is told (default 1000).",
    )  # fmt: skip


class SubscriptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriptions: list[SubscriptionIn] = Field(max_length=len(Service) * len(CHANNELS))


class SubscriptionOut(BaseModel):
    service: Service
    channel: str
    days_before: int | None
    threshold: Decimal | None
    since: datetime


class SubscriptionsOut(BaseModel):
    customer_no: str
    subscriptions: list[SubscriptionOut]


def _check_customer_no(customer_no: str) -> None:
    if not (1 <= len(customer_no) <= 32 and customer_no.isascii() and customer_no.isalnum()):
        raise HTTPException(422, "customer_no: letters and digits, at most 32")


async def _out(db: AsyncSession, customer_no: str, customer: Customer | None) -> SubscriptionsOut:
    views = [] if customer is None else await subscriptions.list_subscriptions(db, customer.id)
    return SubscriptionsOut(
        customer_no=customer_no,
        subscriptions=[SubscriptionOut(service=v.service, channel=v.channel,
                                       days_before=v.days_before, threshold=v.threshold,
                                       since=v.since) for v in views],
    )  # fmt: skip


@router.get(
    "/api/v1/customers/{customer_no}/subscriptions",
    response_model=SubscriptionsOut,
    tags=["subscriptions"],
    summary="A customer's subscriptions (bill ready, repayment reminder, balance alerts)",
)
async def get_subscriptions(
    customer_no: str,
    _: Principal = Depends(require(Permission.SUBSCRIPTIONS_MANAGE)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> SubscriptionsOut:
    _check_customer_no(customer_no)
    customer = await db.scalar(select(Customer).where(Customer.bank_customer_no == customer_no))
    if customer is None:
        try:
            await bank.get_customer(customer_no)
        except NotFound:
            raise HTTPException(404, f"no customer {customer_no}") from None
    return await _out(db, customer_no, customer)


@router.put(
    "/api/v1/customers/{customer_no}/subscriptions",
    response_model=SubscriptionsOut,
    tags=["subscriptions"],
    summary="Replace a customer's subscriptions (audited)",
)
async def put_subscriptions(
    customer_no: str,
    body: SubscriptionsIn,
    principal: Principal = Depends(require(Permission.SUBSCRIPTIONS_MANAGE)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> SubscriptionsOut:
    _check_customer_no(customer_no)
    for i, item in enumerate(body.subscriptions):
        if item.channel not in CHANNELS:
            raise HTTPException(
                422, f"subscriptions.{i}.channel: must be one of {', '.join(CHANNELS)}"
            )
    try:
        profile = await bank.get_customer(customer_no)
    except NotFound:
        raise HTTPException(404, f"no customer {customer_no}") from None
    customer = await ensure_customer(db, profile)
    wanted = [subscriptions.Wanted(s.service, s.channel, s.days_before, s.threshold)
              for s in body.subscriptions]  # fmt: skip
    try:
        await subscriptions.replace_subscriptions(
            db, customer_id=customer.id, wanted=wanted, actor=principal.name
        )
    except SubscriptionError as exc:
        raise HTTPException(422, str(exc)) from None
    return await _out(db, customer_no, customer)


@router.get("/subscriptions", include_in_schema=False)
async def subscriptions_page(
    request: Request,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Subscribers per service, notices by delivery state, and the scheduler's last runs."""
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        "subscriptions/subscriptions.html",
        {"principal": principal, "overview": await overview(db), "services": list(Service),
         "labels": _labels(), "csrf": csrf_token(request)},
    )  # fmt: skip


def _labels() -> dict[str, str]:
    """Service and run-state names in the user's language (called per request)."""
    return {
        Service.BILL_READY.value: gettext_("Bill ready"),
        Service.REPAYMENT_REMINDER.value: gettext_("Repayment reminder"),
        Service.BALANCE_ALERT.value: gettext_("Balance alerts"),
        "running": gettext_("running"),
        "done": gettext_("done"),
        "failed": gettext_("failed"),
        "interrupted": gettext_("interrupted"),
    }
