"""Words, not codes (issue 23, finding 5): the desk's pages show queues, SLA clocks, states and
steps by their Chinese labels, durations as 7分36秒, and times in the bank's time zone without
ISO "T" or "UTC". The test reads the visible text of every workspace and routing page an agent
or supervisor works in and fails on any raw code."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from kefu.db.engine import make_engine, make_sessionmaker
from kefu.routing import service
from kefu.workspace import formatting
from tests.conftest import login

pytestmark = pytest.mark.db

CODES = re.compile(
    r"\b(credit_card|deposit_wealth|complaint|general|first_response|resolution|online|offline|away|busy"
    r"|waiting|reserved|assigned|queued|offered|escalated|sla_breach|offer_expired|claimed)\b"
    r"|\d{4}-\d{2}-\d{2}T\d{2}|\bUTC\b|\b\d+ s\b"
)


class VisibleText(HTMLParser):
    """Text a person sees: no attributes, no script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "textarea"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "textarea") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def raw_codes(html: str) -> list[str]:
    return sorted({m.group(0) for m in CODES.finditer(visible(html))})


async def _breach_every_sla(url: str) -> None:
    """An hour later every demo conversation has breached its first-response clock (the complaint
    queue then escalates)."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await service.check_sla(session, now=datetime.now(UTC) + timedelta(days=3))
    finally:
        await engine.dispose()


def test_desk_pages_show_words_not_codes(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_breach_every_sla(seeded_url))
    login(client, "agent1")  # online: the demo conversations are offered to agent1
    client.put("/api/v1/me/presence", json={"presence": "online"})
    client.put("/api/v1/me/presence", json={"presence": "away", "reason": "break"})
    ids = [
        i["id"]
        for part in ("offers", "mine", "queue")
        for i in client.get("/api/v1/inbox").json()[part]
    ]
    assert len(ids) >= 4
    inbox = client.get("/api/v1/inbox").json()
    # One conversation becomes agent1's: claim a waiting one (or take an offer, which claim accepts).
    take = [i["id"] for i in inbox["queue"] if i["claimable"]] + [i["id"] for i in inbox["offers"]]
    assert client.post(f"/api/v1/conversations/{take[0]}/claim").status_code == 200
    pages = {"/workspace/inbox": client.get("/workspace/inbox").text}
    for cid in ids:
        pages[f"/workspace/conversations/{cid}"] = client.get(
            f"/workspace/conversations/{cid}"
        ).text
    client.cookies.clear()
    login(client, "supervisor")
    pages["/supervisor/queues"] = client.get("/supervisor/queues").text
    pages["/workspace/inbox (supervisor)"] = client.get("/workspace/inbox").text
    pages["/workspace/conversations"] = client.get("/workspace/conversations").text
    assert "agent1" not in visible(pages["/workspace/conversations"])  # people by their names
    found = {path: raw_codes(html) for path, html in pages.items()}
    assert {path: codes for path, codes in found.items() if codes} == {}
    # …and the words are there instead.
    assert "信用卡" in visible(pages["/workspace/inbox"]) and "投诉与舆情" in visible(
        pages["/supervisor/queues"]
    )
    assert "首次响应" in visible(pages["/supervisor/queues"])


def test_durations_and_times() -> None:
    assert formatting.duration(456) == "7分36秒"
    assert formatting.duration(45) == "45秒"
    assert formatting.duration(3 * 3600 + 120) == "3小时2分"
    formatting.configure("Asia/Shanghai")
    assert formatting.local_time("2026-11-30T02:00:00+00:00") == "2026-11-30 10:00"
    assert formatting.local_time(datetime(2026, 11, 30, 2, 0)) == "2026-11-30 10:00"  # naive = UTC
    now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert formatting.ago(now - timedelta(seconds=20), now) == "刚刚"
    assert formatting.ago(now - timedelta(minutes=3, seconds=5), now) == "3分钟前"
    assert formatting.ago(now - timedelta(hours=2), now) == "2小时前"
    assert formatting.ago(now - timedelta(days=5), now) == "5天前"
    formatting.configure("Europe/London")
    try:
        assert formatting.local_time("2026-11-30T02:00:00+00:00") == "2026-11-30 02:00"
    finally:
        formatting.configure("Asia/Shanghai")


def test_wechat_customers_are_never_shown_by_their_openid(client) -> None:  # type: ignore[no-untyped-def]
    """Finding 7: an unbound WeChat follower appeared as `demo-openid-2`."""
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    routed = client.post(
        "/api/v1/conversations",
        json={"channel": "wechat", "contact": "demo-openid-2", "text": "人工"},
    ).json()
    cid = routed["conversation_id"]
    pages = [client.get("/workspace/inbox").text, client.get(f"/workspace/conversations/{cid}").text,
             client.get("/workspace/conversations").text]  # fmt: skip
    for html in pages:
        assert "demo-openid-2" not in html
    assert "微信用户 …id-2" in pages[1]
    assert "demo-openid-2" not in client.get("/api/v1/inbox").text


async def _age(url: str, cid: int, seconds: int) -> None:
    from sqlalchemy import update

    from kefu.routing.models import RoutingTask

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(RoutingTask)
                .where(RoutingTask.conversation_id == cid)
                .values(enqueued_at=datetime.now(UTC) - timedelta(seconds=seconds))
            )
    finally:
        await engine.dispose()


def test_inbox_conversation_and_board_agree_on_the_queue(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    """Finding 7: after its first target's timeout a credit-card conversation waits in 综合; the
    conversation page said 信用卡 (the queue it entered by) while the inbox said 综合."""
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    cid = client.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": "信用卡账单金额不对", "customer_no": "C0000000001",
    }).json()["conversation_id"]  # fmt: skip
    asyncio.run(_age(seeded_url, cid, 1200))  # past the first target (its rings and timeout)
    item = next(i for i in client.get("/api/v1/inbox").json()["queue"] if i["id"] == cid)
    assert item["queue"] == "general" and item["queue_label"] == "综合"
    state = client.get(f"/workspace/conversations/{cid}").text
    state = state[state.index('data-testid="conversation-state"') :][:400]
    assert "综合" in state and "信用卡" not in state
