from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.routing.intake import open_conversation
from kefu.routing.rules import CalendarSpec
from kefu.routing.sla import business_seconds
from kefu.webhooks import service as webhooks
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.routing.conftest import NOW

CAL = CalendarSpec(name="c", timezone="Asia/Shanghai", hours={"mon": ("09:00", "18:00"), "tue": ("09:00", "18:00")},
                   holidays=["2026-12-01"])  # fmt: skip


@pytest.fixture(autouse=True)
def _receivers_on_the_allow_list():  # type: ignore[no-untyped-def]
    """The receivers here are names that resolve nowhere, answered by a MockTransport; the
    outbound guard sends only to names it could resolve and check, or to allow-listed ones."""
    from kefu.net import guard

    guard.configure(["crm.example", "all.example", "dead.example"])
    yield
    guard.configure([])


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return (
        datetime(2026, 11, day, hour - 8, minute, tzinfo=UTC)
        if hour >= 8
        else datetime(2026, 11, day - 1, hour + 16, minute, tzinfo=UTC)
    )


def test_business_seconds_follow_the_calendar() -> None:
    # Monday 30 Nov 17:00 → Tuesday 1 Dec (a holiday) → counts only Monday's last hour.
    start = shanghai(30, 17)
    assert business_seconds(start, start + timedelta(days=1), CAL) == 3600
    # Outside hours nothing counts; without a calendar everything does.
    assert business_seconds(shanghai(30, 19), shanghai(30, 23), CAL) == 0
    assert business_seconds(shanghai(30, 19), shanghai(30, 23), None) == 4 * 3600
    assert business_seconds(shanghai(30, 10), shanghai(30, 9), CAL) == 0


def test_signature_round_trip() -> None:
    body = b'{"event":"x"}'
    signature = webhooks.sign("s3cret", 1700000000, body)
    assert signature.startswith("sha256=") and webhooks.verify(
        "s3cret", 1700000000, body, signature
    )
    assert not webhooks.verify("s3cret", 1700000001, body, signature)
    assert not webhooks.verify("other", 1700000000, body, signature)


@pytest.mark.db
async def test_deliveries_are_signed_and_retried(session: AsyncSession) -> None:
    session.add(
        WebhookSubscription(
            name="crm", url="http://crm.example/hook", secret="k", events=["conversation.created"]
        )
    )
    session.add(
        WebhookSubscription(name="all", url="http://all.example/hook", secret="k2", events=["*"])
    )
    await session.flush()
    await open_conversation(session, channel="sms", contact="x", text="你好", now=NOW)
    rows = (await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all()
    assert sorted(r.event for r in rows) == [
        "conversation.created",
        "conversation.created",
        "message.created",
    ]

    seen: list[httpx.Request] = []
    failures = {"http://crm.example/hook": 2}  # the CRM fails twice, then recovers

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        url = str(request.url)
        if failures.get(url, 0) > 0:
            failures[url] -= 1
            return httpx.Response(503)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await webhooks.deliver_due(session, client=client, now=NOW) == 2
        crm = next(r for r in rows if r.subscription_id == 1)
        assert (crm.status, crm.attempts, crm.last_error) == ("pending", 1, "HTTP 503")
        assert crm.next_attempt_at == NOW + timedelta(seconds=5)
        assert (
            await webhooks.deliver_due(session, client=client, now=NOW + timedelta(seconds=1)) == 0
        )  # not due
        assert (
            await webhooks.deliver_due(session, client=client, now=NOW + timedelta(seconds=5)) == 0
        )
        assert crm.next_attempt_at == NOW + timedelta(seconds=15)
        assert (
            await webhooks.deliver_due(session, client=client, now=NOW + timedelta(seconds=15)) == 1
        )
        assert crm.status == "delivered"
    request = seen[0]
    timestamp = int(request.headers["x-kefu-timestamp"])
    assert webhooks.verify("k", timestamp, request.content, request.headers["x-kefu-signature"])
    payload = json.loads(request.content)
    assert payload["event"] == "conversation.created" and payload["data"]["channel"] == "sms"


@pytest.mark.db
async def test_delivery_gives_up_after_max_attempts(session: AsyncSession) -> None:
    session.add(
        WebhookSubscription(name="dead", url="http://dead.example/", secret="k", events=["*"])
    )
    await session.flush()
    await webhooks.emit(session, event="conversation.closed", payload={"id": 1}, now=NOW)
    transport = httpx.MockTransport(
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r))
    )
    async with httpx.AsyncClient(transport=transport) as client:
        at = NOW
        for _ in range(webhooks.MAX_ATTEMPTS):
            await webhooks.deliver_due(session, client=client, now=at)
            at += timedelta(hours=2)
    row = await session.scalar(select(WebhookDelivery))
    assert (row.status, row.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert row.last_error.startswith("ConnectError")
