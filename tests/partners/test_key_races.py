"""Partner keys created back to back and in parallel (a real server): each gets a name of its
own and a 201. Back to back was a 500 once in the contract run: the second request counted
the keys before the first one's commit (kefu.web.deps.get_db now commits before answering)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kefu.auth.service import create_api_key
from kefu.config import load_settings
from tests.conftest import session_on
from tests.security.live import LiveServer

pytestmark = pytest.mark.db


async def _admin_key(url: str) -> str:
    async with session_on(url) as db:
        _, clear = await create_api_key(db, name="races", role="admin", actor="test")
        await db.commit()
    return clear


async def test_keys_back_to_back_and_in_parallel_each_get_a_name(seeded_url: str) -> None:
    headers = {"Authorization": f"Bearer {await _admin_key(seeded_url)}"}
    settings = load_settings(database_url=seeded_url, secret_key="t")
    with LiveServer(settings) as base:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            made = await http.post(
                "/api/v1/partners",
                json={"name": "races", "sub_code": "77", "display_name": "并发测试"},
            )
            assert made.status_code == 201, made.text
            back_to_back = [await http.post("/api/v1/partners/races/keys") for _ in range(5)]
            parallel = await asyncio.gather(  # six admins at once
                *(http.post("/api/v1/partners/races/keys") for _ in range(6))
            )
            listed = (await http.get("/api/v1/partners")).json()
    assert [a.status_code for a in back_to_back] == [201] * 5, [a.text for a in back_to_back]
    names = [a.json()["name"] for a in back_to_back]
    assert names == [f"partner:races:{n}" for n in range(1, 6)]
    if seeded_url.startswith("sqlite"):
        # One writer at a time: a write that meets another may be refused (503, try again).
        refused = [a for a in parallel if a.status_code == 503]
        assert all(a.headers.get("retry-after") for a in refused)
        parallel = [a for a in parallel if a.status_code != 503]
        assert parallel  # at least one got through
    assert {a.status_code for a in parallel} == {201}, [a.text for a in parallel]
    names += [a.json()["name"] for a in parallel]
    assert len(set(names)) == len(names)
    (races,) = [p for p in listed if p["name"] == "races"]
    assert sorted(races["keys"]) == sorted(names)
