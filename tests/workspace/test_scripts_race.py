"""Adding a script races: parallel requests with one shortcut give one 201 and 409s, never a
500 (the shortcut was checked, then inserted; the loser hit the unique index)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from kefu.auth.service import create_api_key
from kefu.config import load_settings
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.workspace.models import ReplyScript
from tests.security.live import LiveServer

pytestmark = pytest.mark.db


async def _admin_keys(url: str, count: int) -> list[str]:
    # One key per request: requests under one key queue behind each other as it is checked.
    engine = make_engine(url)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            return [
                (await create_api_key(session, name=f"race-{n}", role="admin", actor="t"))[1]
                for n in range(count)
            ]
    finally:
        await engine.dispose()


async def test_parallel_adds_of_one_shortcut_give_one_script_and_409s(seeded_url: str) -> None:
    keys = await _admin_keys(seeded_url, 12)
    body = {"shortcut": "race_once", "title": "并发", "body": "您好，请稍候。"}
    with LiveServer(load_settings(database_url=seeded_url, secret_key="t")) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/scripts", json=body, headers={"Authorization": f"Bearer {k}"}
                    )
                    for k in keys
                )
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [201] + [409] * 11, statuses
    engine = make_engine(seeded_url)
    try:
        async with make_sessionmaker(engine)() as session:
            kept = await session.scalar(
                select(func.count()).where(ReplyScript.shortcut == "race_once")
            )
    finally:
        await engine.dispose()
    assert kept == 1
