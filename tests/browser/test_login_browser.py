"""A real browser (Debian's Chromium through Playwright) logs in as an agent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, seed_sync
from tests.ports import free_port

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture
def server(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    from kefu.db.migrate import upgrade

    upgrade(url)
    seed_sync(url, 50)
    import asyncio

    from kefu.demo import ensure_demo_data

    asyncio.run(ensure_demo_data(url))
    port = free_port()
    env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SECRET_KEY": "browser-test"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "serve", "--port", str(port), "--no-migrate"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120  # a loaded machine starts kefu slowly
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline or process.poll() is not None:
            process.kill()
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"kefu serve did not become ready:\n{output}")
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_agent_logs_in_and_sees_the_home_page(server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    from kefu.demo import DEMO_PASSWORD

    bundle = REPO_ROOT / "src" / "kefu" / "web" / "static" / "dist" / "app.js"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(server + "/")
            assert "/login" in page.url
            page.fill("input[name=username]", "agent1")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server + "/")
            assert page.get_by_test_id("who").inner_text().startswith("李晓雨")
            assert page.get_by_test_id("bank-customers").inner_text() == "50"
            assert page.get_by_test_id("open-conversations").inner_text() == "4"
            assert "在线坐席" in page.content()
            if bundle.exists():
                # The bundled htmx is loaded and wired the live counts; ECharts is not loaded
                # here, only on pages that draw charts (issue 23, finding 10).
                page.wait_for_function("window.htmx !== undefined")
                assert page.evaluate("window.echarts === undefined")
            page.screenshot(path=str(tmp_path / "home.png"))
        finally:
            browser.close()
