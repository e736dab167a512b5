"""A seeded synthetic bank, bound customers and a scheduler writing into a real outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from kefu.assistant.engine import Assistant
from kefu.bank.models import Card, CustomerProfile
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.identity.binding import bind
from kefu.messaging.pipeline import Pipeline
from kefu.subscriptions import service as subscriptions
from kefu.subscriptions.scheduler import SubscriptionScheduler
from kefu.subscriptions.service import Service
from tests.conftest import AS_OF, seed_sync

SIGNATURE = "【kefu银行】"
CUSTOMERS = 40


def offline_link() -> SmsLink:
    """A link the outbox names; nothing connects to it (tests that send start a simulator)."""
    return SmsLink(name="carrier", protocol="smpp", port=1, username="kefu", password="secret")


def offline_gateway(factory, bank) -> SmsGateway:  # type: ignore[no-untyped-def]
    """A gateway that is never started: the scheduler only writes into its outbox."""
    return SmsGateway(links=[offline_link()], sessionmaker=factory, pipeline=Pipeline(Assistant(bank)),
                      signature=SIGNATURE)  # fmt: skip


@dataclass
class World:
    engine: object
    factory: object
    bank: SyntheticBank
    gateway: SmsGateway
    profiles: list[CustomerProfile]

    def scheduler(self, **kwargs: object) -> SubscriptionScheduler:
        return SubscriptionScheduler(
            sessionmaker=self.factory, bank=self.bank, outbox=self.gateway, **kwargs
        )

    async def bind(self, profile: CustomerProfile) -> int:
        async with session_scope(self.factory) as db:
            customer = await bind(db, kind="phone", value=profile.mobile, profile=profile,
                                  actor="test")  # fmt: skip
            return customer.id

    async def subscribe(
        self,
        customer_id: int,
        service: Service,
        days_before: int | None = None,
        threshold: Decimal | None = None,
    ) -> None:
        async with session_scope(self.factory) as db:
            await subscriptions.subscribe(db, customer_id=customer_id, service=service,
                                          channel="sms", actor="test", days_before=days_before,
                                          threshold=threshold)  # fmt: skip

    async def credit_card(self, profile: CustomerProfile) -> Card | None:
        cards = [c for c in await self.bank.list_cards(profile.customer_no)
                 if c.kind == "credit" and c.status == "active"]  # fmt: skip
        return cards[0] if len(cards) == 1 else None

    async def outbox(self, phone: str | None = None) -> list[SmsMessage]:
        async with session_scope(self.factory) as db:
            query = select(SmsMessage).where(SmsMessage.direction == "out")
            if phone:
                query = query.where(SmsMessage.phone == phone)
            return list((await db.scalars(query.order_by(SmsMessage.id))).all())

    async def count_outbox(self) -> int:
        async with session_scope(self.factory) as db:
            return await db.scalar(select(func.count()).select_from(SmsMessage)) or 0

    async def phone_says(self, phone: str, text: str) -> list[str]:
        """The customer texts the hall (through the assistant, as the gateway would)."""
        from kefu.messaging.contract import Turn

        async with session_scope(self.factory) as db:
            reply = await self.gateway.pipeline.selfservice.handle(
                db, Turn("sms", phone, text, AS_OF)
            )
        return reply.texts

    async def latest_movement_day(self, profile: CustomerProfile) -> date:
        """The day of the customer's newest account movement (alerts are due that day)."""
        days = [t.posted_at.date() for a in await self.bank.list_accounts(profile.customer_no)
                for t in await self.bank.list_transactions(a.account_no, 1)]  # fmt: skip
        return max(days)

    async def find(self, predicate) -> tuple[CustomerProfile, Card]:  # type: ignore[no-untyped-def]
        """A customer with exactly one active credit card whose latest bill matches."""
        for profile in self.profiles:
            card = await self.credit_card(profile)
            if card is None:
                continue
            due = await self.bank.get_repayment_due(card.card_no)
            if predicate(card, due):
                return profile, card
        raise AssertionError("no such customer in the seeded bank")


@pytest.fixture
def bank_url(db_url: str) -> str:
    seed_sync(db_url, CUSTOMERS)
    return db_url


@pytest.fixture
async def world(bank_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(bank_url)
    factory = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    gateway = offline_gateway(factory, bank)
    profiles = [await bank.get_customer(f"C{i:010d}") for i in range(1, CUSTOMERS + 1)]
    yield World(engine, factory, bank, gateway, profiles)
    await engine.dispose()


def day(text: str) -> date:
    return date.fromisoformat(text)
