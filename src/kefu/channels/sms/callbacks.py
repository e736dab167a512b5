"""Signed status callbacks for outbound SMS.

A bank system or partner registers a URL (``POST /api/v1/sms/callbacks``); every change of
state of an SMS that its key sent (sent, delivered, failed) is written as a webhook delivery in
the same transaction as the change, then posted by the routing ticker with kefu's webhook
signature (``X-Kefu-Signature: sha256=HMAC(secret, "<timestamp>.<body>")``, see
kefu.routing.webhooks), retried with back-off. Admins' webhook subscriptions may list the
``sms.status`` event to receive every SMS's changes; ``*`` does not include it (it would be
thousands a second).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.sms.models import SmsMessage
from kefu.db.base import utcnow
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription

EVENT = "sms.status"
MO_EVENT = "sms.mo"  # a text to a partner's sub-code, for that partner's callbacks
CACHE_SECONDS = 5.0


class StatusCallbacks:
    """Who wants SMS status events, looked up at most every CACHE_SECONDS: with no
    subscription, recording a batch of reports costs no extra query."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._subs: list[tuple[int, str | None]] = []
        self._loaded_at = -float("inf")

    async def _subscriptions(self, db: AsyncSession) -> list[tuple[int, str | None]]:
        if time.monotonic() - self._loaded_at >= self.cache_seconds:
            rows = await db.execute(
                select(
                    WebhookSubscription.id, WebhookSubscription.owner, WebhookSubscription.events
                ).where(WebhookSubscription.is_active.is_(True))
            )
            self._subs = [(sid, owner) for sid, owner, events in rows.all() if EVENT in events]
            self._loaded_at = time.monotonic()
        return self._subs

    async def emit(self, db: AsyncSession, message_ids: Sequence[int]) -> int:
        """Queues one delivery per interested subscription for each message's current state
        (call after the state change, before the commit); returns how many."""
        subs = await self._subscriptions(db) if message_ids else []
        if not subs:
            return 0
        rows = (
            await db.execute(
                select(
                    SmsMessage.id, SmsMessage.phone, SmsMessage.kind, SmsMessage.state,
                    SmsMessage.error, SmsMessage.parts, SmsMessage.meta,
                ).where(SmsMessage.id.in_(list(message_ids)))
            )
        ).all()  # fmt: skip
        added, at = 0, utcnow().isoformat()
        for mid, phone, kind, state, error, parts, meta in rows:
            sender = (meta or {}).get("sender")
            payload: dict[str, Any] = {
                "event": EVENT,
                "data": {"id": mid, "to": phone, "kind": kind, "state": state, "error": error,
                         "report": (meta or {}).get("report"), "parts": parts,
                         "possibly_duplicated": bool((meta or {}).get("possibly_duplicated")),
                         "report_matched": (meta or {}).get("report_matched"), "at": at},
            }  # fmt: skip
            for sub_id, owner in subs:
                if owner is None or owner == sender:
                    db.add(WebhookDelivery(subscription_id=sub_id, event=EVENT, payload=payload))
                    added += 1
        return added
