"""Session replay: the recorder's chunks are checked like events (sizes, shape, clock, replays,
unknown sites), masked again and stored compressed apart from events; the list (also the
sessions behind a funnel's drop-off), the player page and the events API keep to
``analytics.replay`` and write who watched to the audit log."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kefu.analytics import replay
from kefu.analytics.analyses import Period, sessions
from kefu.analytics.settings import AnalyticsSettings, Site
from kefu.analytics.store import DuckDBStore
from tests.analytics.conftest import CHROME, TODAY
from tests.conftest import login

NOW = 1_790_000_000.0
SETTINGS = AnalyticsSettings(sites=[Site(key="demo-bank", replay=True), Site(key="quiet")],
                             replay_chunk_bytes=20_000)  # fmt: skip


def chunk(seq: int = 0, session: str = "session-0001", **extra: Any) -> dict[str, Any]:
    t = int(NOW * 1000) - 2000
    events = [
        {"type": 4, "timestamp": t, "data": {"href": "https://bank.example/demo/bank/accounts",
                                             "width": 1280, "height": 720}},
        {"type": 2, "timestamp": t + 1, "data": {"node": {"type": 0, "childNodes": [
            {"type": 3, "textContent": "卡号 6214830000001126488 手机 13812345678"}]},
            "initialOffset": {"top": 0, "left": 0}}},
        {"type": 3, "timestamp": t + 900, "data": {"source": 5, "text": "****", "id": 9}},
    ]  # fmt: skip
    return {"v": 1, "sent_at": int(NOW * 1000), "visitor": "visitor-0001", "session": session,
            "seq": seq, "events": events, **extra}  # fmt: skip


def _parse(body: Any, site: str = "demo-bank") -> tuple[Any, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return replay.parse(SETTINGS, site, raw, NOW)


def test_bad_chunks_are_refused_with_a_reason() -> None:
    before = dict(replay.refused)
    cases = [
        (_parse(chunk(), "elsewhere"), 404),
        (_parse(chunk(), "quiet"), 404),  # a known site without replay
        (_parse(b"{not json"), 400),
        (_parse(chunk(extra_field=1)), 422),
        (_parse(chunk(seq=-1)), 422),
        (_parse(chunk(visitor="x")), 422),
        (_parse(chunk(events=[{"type": 2, "timestamp": 1, "data": {}, "html": "<p>"}])), 422),
        (_parse(chunk(events=[{"type": 3, "timestamp": int(NOW * 1000) + 3_600_000}])), 422),
        (_parse(chunk(sent_at=int((NOW - 3 * 86400) * 1000))), 422),  # stale clock
        (_parse(chunk(events=[{"type": 3, "timestamp": 1, "data": {"x": "y" * 30_000}}])), 413),
    ]
    assert [outcome.status for (_, outcome), _ in cases] == [code for _, code in cases]
    assert all(parsed is None for (parsed, _), _ in cases)
    counted = sum(replay.refused.values()) - sum(before.values())
    assert counted == len(cases)
    parsed, refusal = _parse(chunk())
    assert refusal is None and parsed is not None and len(parsed.events) == 3


def test_chunks_are_masked_and_compressed() -> None:
    parsed, _ = _parse(chunk())
    blob, raw_bytes, first, last = replay.pack(parsed, NOW)
    text = gzip.decompress(blob).decode()
    assert len(text.encode()) == raw_bytes and len(blob) < raw_bytes
    assert "6214830000001126488" not in text and "13812345678" not in text
    assert "8488" in text or "6488" in text  # masked, not dropped: the tail stays
    events = json.loads(text)
    assert [e["type"] for e in events] == [4, 2, 3]
    assert last - first == timedelta(milliseconds=900)
    assert abs(last.timestamp() - (NOW - 1.1)) < 0.01  # on the server's clock


def test_dropoff_sessions_from_the_event_store(month: DuckDBStore) -> None:
    p = Period.last("demo-bank", 30, TODAY)
    left = sessions.matching(month, p, reached="/demo/bank/transfer/verify",
                             missed="/demo/bank/transfer/done")  # fmt: skip
    verify = {r[0] for r in month.query(
        f"SELECT DISTINCT session_id FROM events WHERE {p.where()} AND path = ?",
        [*p.params(), "/demo/bank/transfer/verify"])}  # fmt: skip
    done = {r[0] for r in month.query(
        f"SELECT DISTINCT session_id FROM events WHERE {p.where()} AND path = ?",
        [*p.params(), "/demo/bank/transfer/done"])}  # fmt: skip
    assert left and set(left) == verify - done  # the planted SMS step: many leave there
    failing = sessions.matching(month, p, failed="/demo/bank/cards/apply", browser="Chrome 122")
    assert failing
    browsers = month.query(
        "SELECT DISTINCT browser || ' ' || browser_version FROM events WHERE session_id IN "
        f"({', '.join('?' for _ in failing)})", failing)  # fmt: skip
    assert browsers == [("Chrome 122",)]
    with pytest.raises(ValueError):
        sessions.matching(month, p)


# -- end to end: the real app, both databases ---------------------------------------------


def _live_chunk(seq: int, session: str = "session-e2e-01", pad: int = 0) -> str:
    now = int(time.time() * 1000)
    body = chunk(seq, session, sent_at=now)
    for i, e in enumerate(body["events"]):
        e["timestamp"] = now - 2000 + i * 500 + seq * 3000
    if pad:
        body["events"][2]["data"]["text"] = "x" * pad
    return json.dumps(body)


def replay_end_to_end(client: TestClient) -> None:
    """Run by tests/analytics/test_end_to_end.py (one seeded database per backend)."""
    client.cookies.clear()
    headers = {"content-type": "text/plain;charset=UTF-8", "user-agent": CHROME}
    url = "/collect/demo-bank/replay"
    first = client.post(url, content=_live_chunk(0), headers=headers)
    assert first.status_code == 202 and first.json()["stored"] > 0
    assert client.post(url, content=_live_chunk(1), headers=headers).status_code == 202
    again = client.post(url, content=_live_chunk(1), headers=headers)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    # the session's cap (100,000 raw bytes here): the chunk that would pass it is refused
    assert client.post(url, content=_live_chunk(2, pad=99_500), headers=headers).status_code == 413
    bot = {**headers, "user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
    assert client.post(url, content=_live_chunk(5), headers=bot).json() == {"stored": 0}
    assert client.post("/collect/nowhere/replay", content=_live_chunk(6), headers=headers
                       ).status_code == 404  # fmt: skip

    api = "/api/v1/analytics/replays/demo-bank/session-e2e-01"
    assert client.get("/analytics/replays", follow_redirects=False).status_code in (302, 303, 401)
    assert client.get(api).status_code == 401
    login(client, "teller")
    assert client.get(api).status_code == 403
    client.cookies.clear()
    login(client, "analyst")
    listed = client.get("/analytics/replays")
    assert (
        listed.status_code == 200 and "/analytics/replays/demo-bank/session-e2e-01" in listed.text
    )
    page = client.get("/analytics/replays/demo-bank/session-e2e-01")
    assert page.status_code == 200 and "/static/dist/analytics-player.js" in page.text
    events = client.get(api).json()
    assert [e["type"] for e in events] == [4, 2, 3, 4, 2, 3]  # both chunks, in time order
    assert "6214830000001126488" not in json.dumps(events)
    assert client.get("/api/v1/analytics/replays/demo-bank/nobody-00").status_code == 404
    # the drop-off filter: no stored event names this session, so nothing matches
    dropoff = client.get(
        "/analytics/replays",
        params={"reached": "/demo/bank/transfer/verify", "missed": "/demo/bank/transfer/done"},
    )
    assert dropoff.status_code == 200 and "session-e2e-01" not in dropoff.text

    from sqlalchemy import select

    from kefu.audit.models import AuditEntry

    async def audited() -> list[tuple[str, str]]:
        async with client.app.state.sessionmaker() as db:
            rows = await db.execute(select(AuditEntry.actor, AuditEntry.target).where(
                AuditEntry.action == "analytics.replay.view"))  # fmt: skip
            return [tuple(r) for r in rows]

    async def retention() -> int:
        async with client.app.state.sessionmaker() as db:
            return await replay.drop_before(db, datetime.now(UTC) + timedelta(seconds=1))

    loop = client.portal  # type: ignore[attr-defined]
    assert loop.call(audited) == [("analyst", "demo-bank/session-e2e-01")]
    assert loop.call(retention) == 2
    assert client.get(api).status_code == 404


def test_deep_pages_are_kept_and_bombs_refused() -> None:
    """A snapshot nests two levels per DOM level: 150 DOM levels are kept (pydantic's own JSON
    parser refused ~100); a body nested thousands deep is refused, never a crash."""
    node: dict[str, Any] = {"type": 3, "textContent": "手机 13812345678"}
    for _ in range(150):
        node = {"type": 2, "tagName": "div", "childNodes": [node]}
    body = chunk(events=[{"type": 2, "timestamp": int(NOW * 1000) - 10, "data": {"node": node}}])
    parsed, refusal = _parse(body)
    assert refusal is None and parsed is not None
    assert b"13812345678" not in gzip.decompress(replay.pack(parsed, NOW)[0])
    bomb = b'{"v": 1, "events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert _parse(bomb)[1].status in (400, 413)
