"""Fixtures of the crisis desk's tests: a session factory on the migrated database, and
stand-ins for the SMS gateway and WeChat sender that record what they were given."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.db.engine import make_engine, make_sessionmaker


@pytest_asyncio.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


class FakeSms:
    """The SMS gateway's enqueue as the worker uses it: records what was queued."""

    def __init__(self) -> None:
        self.queued: list[dict] = []

    async def enqueue(self, db, **message):  # type: ignore[no-untyped-def]
        self.queued.append(message)
        return message


class FakeWechat:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def notify_staff(self, account, openid, *, kind, data, url=None, idempotency_key=None):  # type: ignore[no-untyped-def]
        self.sent.append((account, openid, kind))
        return True


@pytest.fixture
def fake_sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
def fake_wechat() -> FakeWechat:
    return FakeWechat()
