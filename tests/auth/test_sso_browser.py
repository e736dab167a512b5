"""The single sign-on button in a real browser (Debian's Chromium through Playwright): the
redirects to the provider and back pass the page's Content-Security-Policy, and the session
cookie survives the round trip (SameSite=Lax)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kefu.config import load_settings
from kefu.net import guard
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, TestProvider
from tests.security.live import LiveServer

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.db,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def test_the_button_signs_in_through_the_provider(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(guard, "_policy", guard.policy())  # restored for the other tests
    with TestProvider() as provider:
        provider.reset(groups=["kefu-agents"], name="张伟")
        oidc = {"issuer": provider.issuer, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "role_map": {"kefu-agents": "agent"}}  # fmt: skip
        settings = load_settings(database_url=seeded_url, secret_key="t", oidc=oidc,
                                 outbound_allow_hosts=["127.0.0.1"])  # fmt: skip
        with LiveServer(settings) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(base + "/login")
                page.get_by_test_id("sso-login").click()
                page.wait_for_url(base + "/", timeout=15_000)
                assert "张伟" in page.content()  # the new user's own home page
            finally:
                browser.close()
