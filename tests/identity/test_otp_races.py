"""Issue 21, finding 2: wrong codes sent in parallel must not get more tries than the limit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.identity import otp

pytestmark = pytest.mark.db


async def test_parallel_wrong_codes_get_no_more_than_max_attempts(db_url: str) -> None:
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    try:
        async with session_scope(factory) as db:
            code = await otp.issue(db, purpose="bind", address="13800000000", payload={"n": 1})
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"

        async def guess() -> otp.OtpCheck:
            async with session_scope(factory) as db:  # one connection per request, as in the app
                return await otp.verify(db, purpose="bind", address="13800000000", code=wrong)

        answers = await asyncio.gather(*(guess() for _ in range(40)))
        # A code checked and found wrong answers "wrong"; the try that uses up the last one and
        # every refused try answer "locked".
        wrong = [a for a in answers if a.reason == "wrong"]
        assert len(wrong) <= otp.MAX_ATTEMPTS - 1, [a.reason for a in answers]
        assert all(a.reason in {"wrong", "locked", "none"} for a in answers)
        async with session_scope(factory) as db:
            late = await otp.verify(db, purpose="bind", address="13800000000", code=code)
            assert not late.ok
            stored = await db.scalar(select(otp.OtpChallenge))
            assert stored.attempts == otp.MAX_ATTEMPTS
    finally:
        await engine.dispose()
