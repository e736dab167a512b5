"""Issue 16 in Chromium: the analyst runs a clustering over planted traffic; the page follows
the background run, then shows the clusters with their labels and a trend chart drawn by
ECharts; saving a cluster as a segment works and says so."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kefu.analytics.clusters.planted import plant_segments
from kefu.analytics.service import hash_key
from kefu.analytics.store import DuckDBStore
from kefu.config import load_settings
from kefu.demo import DEMO_PASSWORD
from tests.conftest import seed_sync
from tests.security.live import LiveServer

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHARTS = Path(__file__).resolve().parents[2] / "src/kefu/web/static/dist/analytics-charts.js"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.db,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.skipif(not CHARTS.exists(), reason="assets not built (make build)"),
]


def test_clustering_page_runs_draws_and_saves_a_segment(tmp_path: Path) -> None:
    """On SQLite only: the page's database work is covered on both backends over HTTP
    (tests/analytics/test_cluster_pages.py); this checks what only a browser shows."""
    from playwright.sync_api import sync_playwright

    from kefu.db.migrate import upgrade
    from kefu.demo import ensure_demo_data

    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    upgrade(url)
    seed_sync(url, 40)
    asyncio.run(ensure_demo_data(url))
    settings = load_settings(
        database_url=url, secret_key="clusters-test",
        analytics={"store_path": str(tmp_path / "events.duckdb"), "flush_seconds": 0.05},
    )  # fmt: skip
    store = DuckDBStore(str(tmp_path / "events.duckdb"))  # before the server holds the file
    plant_segments(store, 10, 14, today=datetime.now(UTC).date(), first=1,
                   hash_key=hash_key(settings))  # fmt: skip
    store.close()
    with LiveServer(settings) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(base + "/login")
            page.fill("input[name=username]", "analyst")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.goto(base + "/analytics/clusters")
            page.fill("[data-testid=cluster-start] input[name=days]", "14")
            page.click("[data-testid=cluster-start] button[type=submit]")
            # the run's progress is polled; when it ends the page reloads with the clusters
            page.wait_for_selector("[data-testid=cluster]", timeout=60_000)
            labels = page.locator("[data-testid=cluster-label]").all_inner_texts()
            assert len(labels) >= 2 and any("↑" in t for t in labels), labels
            sizes = [int(t) for t in page.locator("[data-testid=cluster-size]").all_inner_texts()]
            assert sum(sizes) == 40
            page.wait_for_selector("[data-testid=chart-cluster-trend-0] canvas", timeout=10_000)
            first = page.locator("[data-testid=cluster]").first
            first.locator("input[name=name]").fill("浏览器测试客户群")
            first.locator("[data-testid=cluster-save-segment] button").click()
            notice = page.wait_for_selector("[data-testid=cluster-notice]", timeout=10_000)
            assert "浏览器测试客户群" in notice.inner_text()
            assert f"（{sizes[0]} 位客户）" in notice.inner_text()
        finally:
            browser.close()
