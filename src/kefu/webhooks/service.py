"""Webhooks: an outbox written in the same transaction as the change, delivered afterwards
with an HMAC-SHA256 signature and retried with exponential back-off.

Signature: ``X-Kefu-Signature: sha256=<hex HMAC of "<timestamp>.<body>" with the secret>``,
timestamp in ``X-Kefu-Timestamp`` (seconds), so receivers can refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db.base import utcnow
from kefu.net import guard
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription

EVENTS = ("conversation.created", "conversation.assigned", "conversation.closed", "message.created")
MAX_ATTEMPTS = 8


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, i.e. a 500
    # for a hostile header) instead of answering False.
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at one hour."""
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


async def emit(
    session: AsyncSession, *, event: str, payload: dict[str, Any], now: datetime | None = None
) -> int:
    """Queues one delivery per active subscription to ``event``; returns how many.

    ``now``: the event's time, which makes the delivery due at once by the same clock the
    caller uses (services take ``now`` so that tests and replays control time); the wall
    clock otherwise.
    """
    subscriptions = (
        await session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.is_active.is_(True))
        )
    ).all()
    count = 0
    for sub in subscriptions:
        if event in sub.events or "*" in sub.events:
            session.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    event=event,
                    payload={"event": event, "data": payload},
                    next_attempt_at=now or utcnow(),
                )
            )
            count += 1
    if count:
        await session.flush()
    return count


async def deliver_due(
    session: AsyncSession, *, client: httpx.AsyncClient, now: datetime, limit: int = 20
) -> int:
    """Sends due deliveries; each row locked (SKIP LOCKED) so several processes share work."""
    rows = (
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    sent = 0
    for delivery in rows:
        sub = await session.get(WebhookSubscription, delivery.subscription_id)
        if sub is None:
            continue
        body = json.dumps(
            {**delivery.payload, "delivery_id": delivery.id}, ensure_ascii=False, sort_keys=True
        ).encode()
        timestamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "x-kefu-event": delivery.event,
            "x-kefu-delivery": str(delivery.id),
            "x-kefu-timestamp": str(timestamp),
            "x-kefu-signature": sign(sub.secret, timestamp, body),
        }
        delivery.attempts += 1
        try:
            # The outbound guard (SSRF, issue 21 finding 8): resolved now, refused when any
            # address is not public; no redirects, so a public URL cannot bounce inward.
            # The connection is pinned to the checked address (DNS rebinding).
            addresses = await guard.check_url(sub.url)
            target, host, extensions = guard.pinned(sub.url, addresses)
            response = await client.post(target, content=body, headers={**headers, **host},
                                         timeout=10, follow_redirects=False,
                                         extensions=extensions)  # fmt: skip
            ok, error = response.is_success, f"HTTP {response.status_code}"
        except guard.Unresolvable as exc:
            ok, error = False, f"not sent: {exc}"[:300]  # retried later, like a network error
        except guard.UnsafeURL as exc:
            ok, error = False, f"refused: {exc}"[:300]
            delivery.attempts = MAX_ATTEMPTS  # never retried: the address will not change
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
        if ok:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
            sent += 1
        else:
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
    return sent
