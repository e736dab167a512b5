"""The self-service assistant's one appended offer: after an answer about the customer's own
accounts (a bill, a balance, a repayment), when the contact policy allows, one line names the
next best offer. The assistant calls it through its offer hook (registered at the composition
root, kefu.runtime), so the assistant does not depend on cross-selling.

Never appended: to an angry customer (the message's sentiment), to a number that replied TD
(the governed outbound's opt-out list), to a customer without a recorded, unwithdrawn consent
to marketing on a number of theirs (an offer is marketing, whatever message carries it), with a complaint in the last 30 days, past the monthly
contact cap, or for a product the customer declined lately — the same arbitration the agents'
panel runs, with the same hard rules. An appended offer is recorded as ``offered``, so it
counts towards the cap like an agent's; the same offer is appended once a day at most."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankError, BankPort
from kefu.conversations.models import Conversation
from kefu.crosssell import service
from kefu.db.base import utcnow
from kefu.identity.binding import customer_for
from kefu.identity.models import ChannelIdentity
from kefu.logs import get_logger
from kefu.outbound.consent import consenting
from kefu.outbound.models import OptOut

log = get_logger(__name__)

# Answers about the customer's own money, after which an offer reads as service, not spam.
OFFER_AFTER = frozenset({"bill.query", "balance.query", "repayment.query", "points.query",
                         "credit_limit.query"})  # fmt: skip


class AssistantOffer:
    def __init__(self, bank: BankPort, state: service.ModelState | None = None) -> None:
        self.bank, self.state = bank, state

    async def __call__(self, db: AsyncSession, *, channel: str, contact: str, identity_kind: str,
                       intent: str, sentiment: str) -> str | None:  # fmt: skip
        if intent not in OFFER_AFTER or sentiment == "negative":
            return None
        if identity_kind == "phone" and await db.scalar(
            select(OptOut.id).where(OptOut.kind == "phone", OptOut.value == contact)
        ):
            return None
        customer = await customer_for(db, kind=identity_kind, value=contact)
        if customer is None:
            return None
        if not await _consented(db, customer.id, contact if identity_kind == "phone" else None):
            return None
        if await db.scalar(select(func.count()).select_from(Conversation).where(
                Conversation.customer_id == customer.id,
                Conversation.intent == service.COMPLAINT_INTENT,
                Conversation.created_at >= utcnow() - timedelta(days=30))):  # fmt: skip
            return None
        try:
            panel = await service.offers_for(db, self.bank, customer.bank_customer_no,
                                             state=self.state or service.model_state())  # fmt: skip
        except BankError:
            return None
        if panel.decision is None or panel.problem or not panel.decision.offers:
            return None  # no model, a stale one, a policy that withholds, or nothing eligible
        offer = panel.decision.offers[0]
        if not await service.record_outcome(db, customer_no=customer.bank_customer_no,
                                            product_code=offer.product.code, outcome="offered",
                                            conversation_id=None, agent_id=None):  # fmt: skip
            return None  # offered today already: once a day, not after every bill query
        log.info("assistant_offer", channel=channel, product=offer.product.code)
        return f"温馨提示：{offer.product.name}。{offer.script}"


async def _consented(db: AsyncSession, customer_id: int, phone: str | None) -> bool:
    """Marketing consent on the number the customer wrote from (SMS), or on any number bound
    to them (WeChat, web chat): the same consent the governed outbound asks of marketing SMS."""
    phones = [phone] if phone else list(
        (await db.scalars(select(ChannelIdentity.value).where(
            ChannelIdentity.customer_id == customer_id, ChannelIdentity.kind == "phone"))).all()
    )  # fmt: skip
    return bool(phones) and bool(await consenting(db, phones, "marketing"))
