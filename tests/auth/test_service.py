from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.auth.service import (
    UserError,
    authenticate,
    create_api_key,
    create_user,
    revoke_api_key,
    unlock_user,
    verify_api_key,
)
from kefu.db.engine import make_engine, make_sessionmaker, session_scope

pytestmark = pytest.mark.db


def _in_session(url: str, fn):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await fn(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_lock_out_after_repeated_failures_then_unlock(db_url: str) -> None:
    async def scenario(session) -> None:  # type: ignore[no-untyped-def]
        await create_user(session, username="ann", password="s3cret-pass", role="agent")
        for _ in range(2):
            result = await authenticate(
                session,
                username="ann",
                password="wrong-pass-1",
                max_failures=3,
                lockout_seconds=600,
            )
            assert result.agent is None and result.reason == "invalid"
        third = await authenticate(
            session, username="ann", password="wrong-pass-1", max_failures=3, lockout_seconds=600
        )
        assert third.reason == "locked" and third.locked_until is not None
        # Even the right password is refused while locked.
        locked = await authenticate(
            session, username="ann", password="s3cret-pass", max_failures=3, lockout_seconds=600
        )
        assert locked.agent is None and locked.reason == "locked"
        await unlock_user(session, username="ann", actor="admin")
        ok = await authenticate(
            session, username="ann", password="s3cret-pass", max_failures=3, lockout_seconds=600
        )
        assert ok.agent is not None and ok.agent.presence == "online"
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        assert actions == [
            "user.create", "login.failed", "login.failed", "login.locked_out",
            "login.refused_locked", "user.unlock", "login.success",
        ]  # fmt: skip

    _in_session(db_url, scenario)


def test_user_validation(db_url: str) -> None:
    async def scenario(session) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(UserError, match="role"):
            await create_user(session, username="bob", password="s3cret-pass", role="root")
        with pytest.raises(UserError, match="password"):
            await create_user(session, username="bob", password="short", role="agent")
        with pytest.raises(UserError, match="username"):
            await create_user(session, username="bad name!", password="s3cret-pass", role="agent")
        await create_user(session, username="bob", password="s3cret-pass", role="agent")
        with pytest.raises(UserError, match="already exists"):
            await create_user(session, username="bob", password="s3cret-pass", role="agent")

    _in_session(db_url, scenario)


def test_api_keys_are_stored_hashed_and_can_be_revoked(db_url: str) -> None:
    async def scenario(session) -> None:  # type: ignore[no-untyped-def]
        key, clear = await create_api_key(session, name="core-banking", role="agent", actor="t")
        assert clear.startswith("kefu_") and clear not in key.key_hash
        assert (await verify_api_key(session, clear)).id == key.id
        assert (
            await verify_api_key(session, clear[:-1] + ("A" if clear[-1] != "A" else "B")) is None
        )
        assert await verify_api_key(session, "garbage") is None
        await revoke_api_key(session, name="core-banking", actor="t")
        assert await verify_api_key(session, clear) is None

    _in_session(db_url, scenario)
