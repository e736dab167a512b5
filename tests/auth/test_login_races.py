"""Issue 21, findings 1, 3 and 13: parallel wrong logins against a real server."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.config import load_settings
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.demo import DEMO_PASSWORD
from tests.security.live import LiveServer

pytestmark = pytest.mark.db
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
MAX_FAILURES = 5


async def _audit(url: str, *actions: str) -> list[AuditEntry]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            query = select(AuditEntry).where(AuditEntry.action.in_(actions))
            return list((await db.scalars(query.order_by(AuditEntry.id))).all())
    finally:
        await engine.dispose()


async def _login_form(http: httpx.AsyncClient) -> str:
    return CSRF.search((await http.get("/login")).text).group(1)


async def _post(http: httpx.AsyncClient, token: str, username: str, password: str):  # type: ignore[no-untyped-def]
    return await http.post(
        "/login",
        data={"username": username, "password": password, "csrf": token, "next": "/"},
        follow_redirects=False,
    )


async def test_parallel_wrong_logins_check_no_more_than_the_limit(seeded_url: str) -> None:
    settings = load_settings(
        database_url=seeded_url, secret_key="t", login_max_failures=MAX_FAILURES,
        login_lockout_seconds=600,
    )  # fmt: skip
    with LiveServer(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            token = await _login_form(http)
            answers = await asyncio.gather(
                *(_post(http, token, "agent1", f"wrong-password-{n}") for n in range(40))
            )
            assert sorted({a.status_code for a in answers}) <= [401, 423], [
                a.status_code for a in answers
            ]
            # The right password is refused while the account is locked.
            right = await _post(http, token, "agent1", DEMO_PASSWORD)
            assert right.status_code == 423
    checked = await _audit(seeded_url, "login.failed", "login.locked_out")
    assert len([e for e in checked if e.actor == "agent1"]) <= MAX_FAILURES
    # Every refused attempt is audited too: nothing is lost.
    refused = await _audit(seeded_url, "login.refused_locked")
    assert len(checked) + len(refused) == 41


async def test_unknown_and_locked_users_get_the_same_answer(seeded_url: str) -> None:
    settings = load_settings(
        database_url=seeded_url, secret_key="t", login_max_failures=3, login_lockout_seconds=600
    )
    with LiveServer(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            token = await _login_form(http)
            known = [(await _post(http, token, "agent1", "wrong-pass-1")).status_code
                     for _ in range(5)]  # fmt: skip
            unknown = [(await _post(http, token, "nobody-here", "wrong-pass-1")).status_code
                       for _ in range(5)]  # fmt: skip
    assert known == unknown == [401, 401, 423, 423, 423]
