from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError

from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer

pytestmark = pytest.mark.db


def test_a_channel_identity_binds_to_at_most_one_customer(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        try:
            async with factory() as session:
                first = Customer(bank_customer_no="C1")
                first.identities.append(ChannelIdentity(kind="phone", value="13800000000"))
                session.add(first)
                await session.commit()
            async with factory() as session:
                second = Customer(bank_customer_no="C2")
                second.identities.append(ChannelIdentity(kind="phone", value="13800000000"))
                session.add(second)
                with pytest.raises(IntegrityError):
                    await session.commit()
            async with factory() as session:
                # The same value under another kind is a different identity.
                third = Customer(bank_customer_no="C3")
                third.identities.append(ChannelIdentity(kind="weibo_uid", value="13800000000"))
                session.add(third)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(go())
