from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kefu.assistant.engine import Assistant
from kefu.bank.models import CustomerProfile
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.messaging.contract import Reply, Turn
from tests.conftest import AS_OF, seed_sync


@dataclass
class Phone:
    """A customer's phone talking to the assistant; counts messages both ways."""

    assistant: Assistant
    factory: object
    number: str
    channel: str = "sms"
    messages: int = 0
    log: list[str] = field(default_factory=list)

    async def say(self, text: str) -> Reply:
        async with session_scope(self.factory) as db:  # type: ignore[arg-type]
            reply = await self.assistant.handle(db, Turn(self.channel, self.number, text, AS_OF))
        self.messages += 1 + len(reply.texts)
        self.log += [f"> {text}", *[f"< {t}" for t in reply.texts]]
        return reply


@dataclass
class World:
    bank: SyntheticBank
    assistant: Assistant
    factory: object
    profiles: list[CustomerProfile]

    def phone(self, number: str, channel: str = "sms") -> Phone:
        return Phone(self.assistant, self.factory, number, channel)

    async def with_cards(self, credit: int, min_cards: int = 1) -> CustomerProfile:
        for profile in self.profiles:
            cards = await self.bank.list_cards(profile.customer_no)
            if sum(c.kind == "credit" for c in cards) == credit and len(cards) >= min_cards:
                return profile
        raise AssertionError("no such customer in the seeded bank")


@pytest.fixture
def bank_url(db_url: str) -> str:
    seed_sync(db_url, 60)
    return db_url


@pytest.fixture
async def world(bank_url: str):  # type: ignore[no-untyped-def]
    db_url = bank_url
    engine = make_engine(db_url)
    bank = SyntheticBank(engine)
    profiles = [await bank.get_customer(f"C{i:010d}") for i in range(1, 61)]
    yield World(bank, Assistant(bank), make_sessionmaker(engine), profiles)
    await engine.dispose()


@pytest.fixture
async def with_faq(world):  # type: ignore[no-untyped-def]
    """The world with the demo knowledge base published."""
    from kefu.knowledge.demo import load_demo_knowledge

    async with session_scope(world.factory) as db:
        assert await load_demo_knowledge(db) >= 200
    return world
