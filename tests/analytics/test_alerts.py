"""Failing-version alerts: the planted Chrome 122 card page is found in the generated month,
recorded once, and delivered to a local webhook receiver with kefu's webhook signature, through
the outbound-URL guard (127.0.0.1 allow-listed here, as a bank would list its own receiver;
an inner address that is not listed is refused)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import alerts
from kefu.analytics.models import FailureAlert
from kefu.analytics.store import DuckDBStore
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.webhooks import service as webhooks
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.conftest import session_on

pytestmark = pytest.mark.db
TODAY = datetime(2026, 12, 6, 12, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[AsyncSession]:
    async with session_on(db_url) as s:
        yield s


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    from kefu.net import guard

    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["content-length"]))
            got.append({"headers": dict(self.headers.items()), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    guard.configure(["127.0.0.1/32"])
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/kefu", got
    finally:
        guard.configure([])
        server.shutdown()


async def test_a_failing_version_is_alerted_once_by_signed_webhook(
    db: AsyncSession, month: DuckDBStore, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    db.add(WebhookSubscription(name="bank-web-team", url=url, secret="s3cret",
                               events=[alerts.EVENT]))  # fmt: skip
    db.add(WebhookSubscription(name="crm", url=url, secret="x", events=["message.created"]))
    # an inner address not on the allow-list: the guard never lets a delivery go there
    db.add(WebhookSubscription(name="inner", url="http://10.1.2.3:8080/x", secret="s",
                               events=[alerts.EVENT]))  # fmt: skip
    await db.commit()

    new = await alerts.check(db, month, "demo-bank", TODAY.date(), days=30)
    chrome = [a for a in new if a["by"] == "browser"]
    assert [(a["page"], a["name"], a["version"]) for a in chrome] == [
        ("/demo/bank/cards/apply", "Chrome", "122")
    ]
    assert chrome[0]["failure_rate"] > 3 * chrome[0]["baseline"]
    assert await alerts.check(db, month, "demo-bank", TODAY.date(), days=30) == []  # once
    stored = (await db.scalars(select(FailureAlert))).all()
    assert len(stored) == len(new)
    queued = (await db.scalars(select(WebhookDelivery))).all()
    assert len(queued) == 2 * len(new)  # only the subscribers of analytics.failing_version

    async with httpx.AsyncClient() as client:
        sent = await webhooks.deliver_due(db, client=client, now=datetime.now(UTC))
    await db.commit()
    assert sent == len(new) == len(got)
    first = next(g for g in got if json.loads(g["body"])["data"]["name"] == "Chrome")
    headers = {k.lower(): v for k, v in first["headers"].items()}
    assert headers["x-kefu-event"] == alerts.EVENT
    assert webhooks.verify("s3cret", int(headers["x-kefu-timestamp"]), first["body"],
                           headers["x-kefu-signature"])  # fmt: skip
    assert json.loads(first["body"])["data"]["page"] == "/demo/bank/cards/apply"
    inner = (
        await db.scalars(select(WebhookDelivery).where(WebhookDelivery.status != "delivered"))
    ).all()
    assert len(inner) == len(new) and all((d.last_error or "").startswith("refused") for d in inner)


async def test_the_checker_alerts_from_the_store_it_is_given_and_never_opens_duckdb(
    db_url: str, tmp_path: Path
) -> None:
    """The loop of kefu.runtime.WORKERS: role ``all`` gives it the app's store once a page
    opened it (None before); a ``workers`` process its own ClickHouse store, never the
    DuckDB file the collecting web process holds."""
    from kefu.analytics.generate import generate
    from kefu.config import load_settings

    settings = load_settings(database_url=db_url, secret_key="x", analytics={
        "alert_check_seconds": 0.05, "store_path": str(tmp_path / "a.duckdb")})  # fmt: skip
    own = alerts.OwnStore(settings)
    assert own() is None and own() is None  # DuckDB: not opened here (said once in the log)
    assert not (tmp_path / "a.duckdb").exists()

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    store = DuckDBStore(":memory:", threads=1)
    offered: list[DuckDBStore | None] = [None]  # the app's store: None until a page opens it
    task = alerts.start_checker(settings.analytics, sessions, lambda: offered[0])
    try:
        async with sessions() as db:
            await db.execute(delete(FailureAlert))
            await db.commit()
        await asyncio.sleep(0.3)  # rounds with no store: nothing checked, the loop goes on
        assert not task.done()
        async with sessions() as db:
            assert await db.scalar(select(func.count()).select_from(FailureAlert)) == 0
        generate(store, 7, 1500, today=datetime.now(UTC), seed=3)  # the planted Chrome 122
        offered[0] = store
        found = 0
        for _ in range(300):
            async with sessions() as db:
                found = await db.scalar(select(func.count()).select_from(FailureAlert)) or 0
            if found:
                break
            await asyncio.sleep(0.1)
        assert found, "the checker recorded no failing version of the planted month"
    finally:
        offered[0] = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
        store.close()  # no wait needed: the cancelled task left the store (alerts.py)


def test_a_workers_process_connects_its_own_clickhouse_store_once_and_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``clickhouse_url`` set, ``kefu run workers`` reads the shared server (opened on the
    first round, reused after, closed when the loop stops)."""
    from kefu.analytics import service
    from kefu.config import load_settings

    opened: list[Any] = []

    class Server:
        closed = False

        def close(self) -> None:
            self.closed = True

    def open_store(settings: Any) -> Server:
        opened.append(Server())
        return opened[-1]

    monkeypatch.setattr(service, "open_store", open_store)
    settings = load_settings(database_url="sqlite://", secret_key="x", analytics={
        "clickhouse_url": "clickhouse://u:p@127.0.0.1:8123/kefu"})  # fmt: skip
    own = alerts.OwnStore(settings)
    first = own()
    assert first is not None and own() is first and len(opened) == 1
    own.close()
    assert opened[0].closed and own.store is None
