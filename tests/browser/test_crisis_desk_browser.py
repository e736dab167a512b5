"""The crisis desk in a real browser: a supervisor has the desk open when a card-fraud burst is
planted in the stream; the worker raises the alert, the desk shows it live (server-sent
events, no reload) with the topic and its sparkline on the board, and the supervisor
acknowledges it."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from datetime import timedelta

import pytest

from tests.browser.test_login_browser import CHROMIUM, server  # noqa: F401 - fixture
from tests.browser.test_workspace_browser import ARGS, log_in
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser


@pytest.fixture
def crisis_server(monkeypatch, request):  # type: ignore[no-untyped-def]
    # The worker every second, alerts by nobody's phone: the desk is the delivery here.
    monkeypatch.setenv("KEFU_CRISIS", json.dumps({"interval": 1, "board_hours": 2}))
    return request.getfixturevalue("server")


def plant_burst(url: str) -> None:
    """An hour of everyday posts and, in its last ten minutes, sixty angry ones about 盗刷."""
    import kefu.db.models  # noqa: F401 - every table, for the posts' foreign keys
    from kefu.db.base import utcnow
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.social.models import SocialPost

    rng = random.Random(5)
    now = utcnow()
    rows = []
    for n in range(240):
        term = rng.choice(["账单", "还款", "理财", "网点", "积分", "额度"])
        rows.append((now - timedelta(minutes=60) + timedelta(seconds=15 * n), [term], term,
                     rng.random() < 0.2, f"{term}怎么办{n}"))  # fmt: skip
    for n in range(60):
        rows.append((now - timedelta(minutes=10) + timedelta(seconds=10 * n), ["信用卡", "盗刷"],
                     "信用卡盗刷", True, f"信用卡被盗刷了{n}次，银行管不管"))  # fmt: skip
    rows.sort(key=lambda r: r[0])

    async def go() -> None:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db:
                for n, (at, keywords, topic, negative, text) in enumerate(rows):
                    db.add(SocialPost(
                        platform="weibo", account="bank", external_id=f"b{n}", kind="mention",
                        author_uid=f"u{n}", author_name=f"网友{n}", author_followers=50, text=text,
                        posted_at=at, received_at=at, sentiment_label="negative" if negative else "neutral",
                        sentiment=-0.8 if negative else 0.1, keywords=keywords, topic=topic,
                        influence=20.0, state="queued",
                    ))  # fmt: skip
                await db.commit()
        finally:
            await engine.dispose()

    # Playwright's sync API runs an event loop on this thread: the database work gets its own.
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - raised on the test's thread below
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]


def test_a_supervisor_sees_a_burst_arrive_live_and_acknowledges_it(
    crisis_server: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    if not (REPO_ROOT / "src" / "kefu" / "web" / "static" / "dist" / "app.js").exists():
        pytest.skip("the htmx bundle is not built (make assets); live updates need it")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            log_in(page, crisis_server, "supervisor")
            page.goto(crisis_server + "/social/crisis")
            expect(page.get_by_test_id("crisis-alerts")).to_contain_text("暂无未关闭的预警")
            page.evaluate("window.__noReload = true")
            plant_burst(f"sqlite:///{tmp_path / 'kefu.db'}")
            alert = page.locator("[data-testid^=alert-][data-state=open]").first
            expect(alert).to_contain_text("盗刷", timeout=20_000)
            assert page.evaluate("window.__noReload") is True, "arrived live, no reload"
            board = page.get_by_test_id("topic-board")
            row = board.locator("tr[data-label*=盗刷]").first
            expect(row).to_be_visible()
            points = row.locator("svg.spark polyline").get_attribute("points") or ""
            assert len(points.split()) == 12, points  # one point per bucket
            expect(page.get_by_test_id("crisis-badge")).to_have_text("1", timeout=35_000)
            alert.locator("button[data-testid^=ack-]").click()
            acknowledged = page.locator("[data-testid^=alert-][data-state=acknowledged]").first
            expect(acknowledged).to_contain_text("已确认")
            expect(acknowledged).to_contain_text("supervisor")
            expect(page.get_by_test_id("crisis-badge")).to_have_count(0)
        finally:
            browser.close()
