"""Issue 19 in Chromium on one kefu server over the demo's staff and its 30 days of generated
service history (kefu.reports.demo, kefu.quality.demo, as `kefu demo` seeds them): the supervisor
opens the head-of-service dashboard and the live view, builds a report (the chart draws, the
CSV downloads), opens 质检 and finds a demo message in conversation search; an agent opens
their own KPIs. No page logs a console error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from kefu.config import load_settings
from kefu.demo import DEMO_PASSWORD
from tests.conftest import seed_sync
from tests.security.live import LiveServer

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHARTS = Path(__file__).resolve().parents[2] / "src/kefu/web/static/dist/charts.js"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.db,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.skipif(not CHARTS.exists(), reason="assets not built (make build)"),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: the demo's data seeded as `kefu demo` seeds it, without
    the demo's channel simulators (not needed by these pages, and slow to start)."""
    import asyncio

    from kefu.db.migrate import upgrade
    from kefu.demo import ensure_demo_data
    from kefu.quality.demo import ensure_quality_demo
    from kefu.reports.demo import ensure_reports_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('service-centre') / 'kefu.db'}"
    upgrade(url)
    seed_sync(url, 5)
    asyncio.run(ensure_demo_data(url))
    asyncio.run(ensure_reports_demo(url, per_day=4))
    asyncio.run(ensure_quality_demo(url))
    asyncio.run(_indexed(url))
    with LiveServer(load_settings(database_url=url, secret_key="service-centre")) as server:
        yield server


async def _indexed(url: str) -> None:
    """The history indexed for search, as the demo's quality worker does in the background
    (a first search would otherwise index it all while the page waits)."""
    from kefu.conversations import search
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        await search.catch_up(db, lag_seconds=0)
        await db.commit()
    await engine.dispose()


def _signed_in(browser, base: str, username: str, errors: list[str]):  # type: ignore[no-untyped-def]
    page = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
    page.set_default_timeout(10_000)
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_supervisor_and_agent_pages(base: str) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = _signed_in(browser, base, "supervisor", errors)
            page.goto(base + "/reports")
            page.wait_for_selector("[data-testid=kpi-tiles]")
            page.wait_for_selector("#chart-today canvas")  # ECharts drew today vs last week
            page.goto(base + "/reports/live")
            page.wait_for_selector("[data-testid=live-agents]")

            # The builder: conversations per day over the demo's month, as a bar chart.
            page.goto(base + "/reports/builder")
            page.check("input[name=measure][value=conversations]")
            page.locator("select[name=dimension]").first.select_option("day")
            page.fill("input[name=start]", str(date.today() - timedelta(days=20)))
            page.fill("input[name=end]", str(date.today()))
            page.select_option("select[name=chart]", "bar")
            page.click("[data-testid=builder-form] button[type=submit]")
            page.wait_for_selector("#chart-builder canvas")
            assert page.locator("[data-testid=builder-table] tbody tr").count() >= 15
            with page.expect_download() as download:
                page.click("a[href^='/reports/builder/export.csv']")
            lines = Path(download.value.path()).read_text("utf-8-sig").splitlines()
            assert lines[0].startswith("日期,会话,") and len(lines) >= 16

            page.goto(base + "/quality")
            assert page.locator("h1").first.inner_text().strip()
            page.goto(base + "/conversations/search")
            page.fill("input[name=q]", "账单")
            page.click("[data-testid=search-submit]")
            page.wait_for_selector("[data-testid=search-results] [data-testid^=hit-]")
            assert "账单" in page.locator("[data-testid=search-results]").inner_text()

            agent = _signed_in(browser, base, "agent1", errors)
            agent.goto(base + "/reports/me")
            agent.wait_for_selector("[data-testid=my-kpis]")
            agent.wait_for_selector("#chart-mine canvas")
        finally:
            browser.close()
    assert errors == []
