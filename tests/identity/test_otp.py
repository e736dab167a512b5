from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.identity import otp

pytestmark = pytest.mark.db


async def test_codes_are_single_use_expire_and_are_rate_limited(db_url: str) -> None:
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    now = utcnow()
    try:
        async with session_scope(factory) as db:
            code = await otp.issue(
                db, purpose="bind", address="13800000000", payload={"x": 1}, now=now
            )
            assert len(code) == 6 and code.isdigit()
        async with session_scope(factory) as db:
            assert (
                await otp.verify(db, purpose="bind", address="13800000000", code=code, now=now)
            ).payload == {"x": 1}
        async with session_scope(factory) as db:
            again = await otp.verify(db, purpose="bind", address="13800000000", code=code, now=now)
            assert not again.ok and again.reason == "none"
        async with session_scope(factory) as db:
            late = await otp.issue(db, purpose="bind", address="13800000000", payload={}, now=now)
        async with session_scope(factory) as db:
            expired = await otp.verify(db, purpose="bind", address="13800000000", code=late,
                                       now=now + otp.CODE_TTL + timedelta(seconds=1))  # fmt: skip
            assert expired.reason == "expired"
        async with session_scope(factory) as db:
            await otp.issue(db, purpose="bind", address="13800000000", payload={}, now=now)
            with pytest.raises(otp.OtpRateLimited):
                await otp.issue(db, purpose="bind", address="13800000000", payload={}, now=now)
        async with session_scope(factory) as db:
            # An hour later the address may ask again; another address never was limited.
            await otp.issue(
                db, purpose="bind", address="13800000000", payload={}, now=now + timedelta(hours=2)
            )
            await otp.issue(db, purpose="bind", address="13900000000", payload={}, now=now)
    finally:
        await engine.dispose()


async def test_a_new_code_replaces_the_old_one(db_url: str) -> None:
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    try:
        async with session_scope(factory) as db:
            first = await otp.issue(db, purpose="card_loss", address="a", payload={})
            second = await otp.issue(db, purpose="card_loss", address="a", payload={})
        async with session_scope(factory) as db:
            if first != second:
                assert not (await otp.verify(db, purpose="card_loss", address="a", code=first)).ok
            assert (await otp.verify(db, purpose="card_loss", address="a", code=second)).reason in (
                None,
                "none",
            )
    finally:
        await engine.dispose()
