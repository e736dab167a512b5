"""Read/write splitting on a real streaming replica (kefu.db.replica): a report's reads are
served by the replica, writes by the primary, and with the replica stopped or behind the
reads answer from the primary."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.requests import Request

from kefu.audit.service import record
from kefu.config import load_settings
from kefu.db.replica import WROTE_COOKIE
from kefu.web.deps import get_db
from tests.conftest import login
from tests.db.replica import Replica

pytestmark = [pytest.mark.db, pytest.mark.parametrize("empty_db_url", ["postgresql"],
                                                      indirect=True)]  # fmt: skip


def _settings(url: str, replica: Replica, **values: Any) -> Any:
    return load_settings(database_url=url, secret_key="test-secret", routing_tick=0,
                         database_replica_url=replica.url_for(url), **values)  # fmt: skip


def _request(app: Any, method: str, path: str, cookie: str = "") -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return Request({"type": "http", "method": method, "path": path, "headers": headers,
                    "query_string": b"", "app": app})  # fmt: skip


async def _in_recovery(app: Any, method: str, path: str, cookie: str = "") -> bool:
    """pg_is_in_recovery() on the connection get_db gives this request: True on the replica."""
    sessions = get_db(_request(app, method, path, cookie))
    db = await anext(sessions)
    try:
        return bool(await db.scalar(text("SELECT pg_is_in_recovery()")))
    finally:
        await sessions.aclose()


async def test_lagging_reads_go_to_the_replica_and_the_rest_to_the_primary(
    db_url: str, pg_replica: Replica
) -> None:
    from kefu.app import create_app

    await pg_replica.caught_up(db_url)
    app = create_app(_settings(db_url, pg_replica))
    async with app.router.lifespan_context(app):
        assert await _in_recovery(app, "GET", "/reports/channels") is True
        assert await _in_recovery(app, "GET", "/api/v1/reports/me") is True
        assert await _in_recovery(app, "POST", "/reports/schedules") is False  # a write
        assert await _in_recovery(app, "GET", "/workspace") is False  # not a lagging read
        wrote = f"{WROTE_COOKIE}={int(time.time())}"
        assert (
            await _in_recovery(app, "GET", "/reports/channels", wrote) is False
        )  # read-your-write
        stale = f"{WROTE_COOKIE}={int(time.time()) - 60}"
        assert await _in_recovery(app, "GET", "/reports/channels", stale) is True

        # A lagging read that writes (an audited view): the write, and every statement of
        # the request after it, on the primary.
        count = text("SELECT count(*) FROM audit_log")
        sessions = get_db(_request(app, "GET", "/analytics/replays/1"))
        db = await anext(sessions)
        recovery = text("SELECT pg_is_in_recovery()")
        assert await db.scalar(recovery) is True
        before = await db.scalar(count)
        await record(db, actor="analyst", action="analytics.replay.view", target="1")
        await db.flush()
        assert await db.scalar(recovery) is False
        assert await db.scalar(count) == before + 1  # read-your-write in the request
        assert await anext(sessions, None) is None  # the request ends: get_db commits
        await pg_replica.caught_up(db_url)
        reader = get_db(_request(app, "GET", "/reports/channels"))
        db = await anext(reader)
        assert await db.scalar(recovery) is True
        assert await db.scalar(count) == before + 1  # replicated
        await reader.aclose()


def _reads(client: TestClient) -> dict[str, float]:
    metrics = client.get("/metrics").text
    return {m[1]: float(m[2]) for m in re.finditer(
        r'^kefu_db_reads_total\{target="(\w+)"\} ([\d.e+]+)', metrics, re.M)}  # fmt: skip


def test_the_reports_page_reads_the_replica_and_the_primary_when_it_is_stopped(
    seeded_url: str, pg_replica: Replica, capfd: pytest.CaptureFixture[str]
) -> None:
    from kefu.app import create_app

    asyncio.run(pg_replica.caught_up(seeded_url))
    with TestClient(create_app(_settings(seeded_url, pg_replica, api_docs_public=True,
                                         metrics_public=True))) as client:  # fmt: skip
        assert login(client, "supervisor").status_code == 303  # a write: the primary
        client.cookies.delete(WROTE_COOKIE)  # (what max_lag seconds later looks like)
        before = _reads(client)
        assert client.get("/reports/channels").status_code == 200
        after = _reads(client)
        assert after["replica"] == before.get("replica", 0) + 1, (before, after)

        pg_replica.stop()
        try:
            for _ in range(2):  # the first finds it dead; the second is not slowed by it
                assert client.get("/reports/channels").status_code == 200
            stopped = _reads(client)
            assert stopped["replica"] == after["replica"]
            assert stopped["primary"] == after.get("primary", 0) + 2
        finally:
            pg_replica.start()
        out = capfd.readouterr().out
        assert out.count('"db_replica_reads_off"') == 1, out[-2000:]  # once, not per request
