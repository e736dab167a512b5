"""Texts to a partner's sub-code (95511 + 5566) go to the partner: a route of the message
pipeline (kefu.messaging.routes) that queues an ``sms.mo`` event for the callbacks of the
partner's keys. Opt-out words stay with the hall (TD is the bank's business on every
sub-code); so does a text for a partner with no callback, which the hall answers rather than
leave unanswered."""

from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.models import ApiKey
from kefu.channels.sms.callbacks import MO_EVENT
from kefu.language.intents import match_code
from kefu.language.normalize import normalize
from kefu.messaging.contract import InboundMessage
from kefu.messaging.routes import Routed
from kefu.partners.models import PartnerApiKey
from kefu.partners.service import by_sub_code
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription


async def to_partner(db: AsyncSession, message: InboundMessage) -> Routed | None:
    sub_code = str(message.metadata.get("sub_code") or "")
    if not sub_code or match_code(normalize(message.text)) == "unsubscribe":
        return None
    partner = await by_sub_code(db, sub_code)
    if partner is None or not await emit_mo(db, partner.id, message):
        return None
    return Routed("partner", {"partner": partner.name})


async def emit_mo(db: AsyncSession, partner_id: int, message: InboundMessage) -> int:
    """Queues the text for every callback of the partner's keys that takes ``sms.mo``;
    returns how many (0: nobody to tell)."""
    owners = (
        select(literal("apikey:") + ApiKey.name)
        .join(PartnerApiKey, PartnerApiKey.api_key_id == ApiKey.id)
        .where(PartnerApiKey.partner_id == partner_id, ApiKey.revoked_at.is_(None))
    )
    subs = (
        await db.execute(
            select(WebhookSubscription.id, WebhookSubscription.events).where(
                WebhookSubscription.is_active.is_(True),
                WebhookSubscription.owner.in_(owners.scalar_subquery()),
            )
        )
    ).all()
    meta = message.metadata
    payload = {
        "event": MO_EVENT,
        "data": {"id": meta.get("sms_id"), "from": message.sender,
                 "to": meta.get("service_number"), "text": message.text,
                 "parts": meta.get("parts", 1), "at": message.received_at.isoformat()},
    }  # fmt: skip
    added = 0
    for sub_id, events in subs:
        if MO_EVENT in events:
            db.add(WebhookDelivery(subscription_id=sub_id, event=MO_EVENT, payload=payload))
            added += 1
    return added
