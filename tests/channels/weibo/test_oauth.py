"""Authorising the account: the admin page's OAuth2 round trip (state checked, token stored,
polling resumes), an expired token shown on the page, and `kefu weibo authorize NAME` for
headless set-ups."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kefu.channels.weibo.models import WeiboToken
from kefu.db.engine import make_engine, make_sessionmaker
from tests.channels.weibo.harness import login, running
from tests.ports import free_port

pytestmark = pytest.mark.db


async def _token(db_url: str) -> WeiboToken | None:
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            return await db.get(WeiboToken, "bank")
    finally:
        await engine.dispose()


async def test_the_admin_authorises_and_sees_the_token_state(seeded_url: str) -> None:
    async with running(seeded_url, redirect_uri="") as k, httpx.AsyncClient(timeout=10) as http:
        await login(http, k.kefu.url, "admin")
        page = await http.get(f"{k.kefu.url}/admin/weibo")
        assert page.status_code == 200 and 'data-token="missing"' in page.text
        start = await http.get(f"{k.kefu.url}/admin/weibo/bank/authorize")
        assert start.status_code == 303
        weibo = httpx.URL(start.headers["location"])
        assert str(weibo).startswith(f"{k.sim.url}/oauth2/authorize")
        assert weibo.params["client_id"] == k.account.app_key
        assert weibo.params["redirect_uri"] == f"{k.kefu.url}/admin/weibo/bank/oauth"
        # A code that did not start here (another state) is refused and stores nothing.
        forged = await http.get(f"{k.kefu.url}/admin/weibo/bank/oauth",
                                params={"code": "x", "state": "not-ours"})  # fmt: skip
        assert forged.headers["location"] == "/admin/weibo?problem=state"
        assert await _token(seeded_url) is None
        # The real round trip (the simulator's consent given at once).
        start = await http.get(f"{k.kefu.url}/admin/weibo/bank/authorize")
        consent = await http.get(start.headers["location"] + "&auto=1")
        assert consent.status_code in (302, 303)
        back = await http.get(consent.headers["location"])
        assert back.headers["location"] == "/admin/weibo?notice=authorised"
        token = await _token(seeded_url)
        assert (
            token.status == "ok" and token.uid == k.account.uid and token.authorised_by == "admin"
        )
        assert 'data-token="ok"' in (await http.get(f"{k.kefu.url}/admin/weibo")).text
        # Weibo expires it: the next poll marks it, the page says so.
        for t in k.state.tokens.values():
            t.expired = True
        k.runtime.poller.wake("bank")
        deadline = time.monotonic() + 8
        while (await _token(seeded_url)).status != "expired":
            assert time.monotonic() < deadline, "the poller did not mark the token"
            await asyncio.sleep(0.1)
        page = await http.get(f"{k.kefu.url}/admin/weibo")
        assert 'data-token="expired"' in page.text and "21327" in page.text


def test_kefu_weibo_authorize_from_a_terminal(db_url: str, tmp_path: Path) -> None:
    from kefu.channels.weibo.simulator.state import WeiboState
    from kefu.cli import app

    port = free_port()
    sim_url = f"http://127.0.0.1:{port}"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "weibo", "simulator", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{sim_url}/_sim/state", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.2)
        defaults = WeiboState()
        account = {"name": "bank", "uid": str(defaults.official.id), "screen_name": "某某银行",
                   "app_key": defaults.app_key, "app_secret": defaults.app_secret,
                   "api_base": sim_url, "dm_api_base": sim_url, "search_api_base": sim_url}  # fmt: skip
        env = {"KEFU_WEIBO_ACCOUNTS": json.dumps([account]), "KEFU_SECRET_KEY": "cli-test"}
        redirect = "https://api.weibo.com/oauth2/default.html"

        def code() -> str:
            answer = httpx.get(f"{sim_url}/oauth2/authorize", params={
                "client_id": defaults.app_key, "redirect_uri": redirect, "response_type": "code",
                "state": "s", "auto": "1"})  # fmt: skip
            return answer.headers["location"]

        runner = CliRunner()
        unknown = runner.invoke(app, ["weibo", "authorize", "nobody", "--database-url", db_url],
                                env=env)  # fmt: skip
        assert unknown.exit_code == 2 and "nobody" in unknown.output
        # Interactive: the URL is printed, the address the browser landed on is pasted.
        result = runner.invoke(app, ["weibo", "authorize", "bank", "--database-url", db_url],
                               input=code() + "\n", env=env)  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"{sim_url}/oauth2/authorize?client_id={defaults.app_key}" in result.output
        assert "Authorised 某某银行" in result.output
        # A used code is refused with Weibo's words.
        used = httpx.URL(code()).params["code"]
        again = runner.invoke(app, ["weibo", "authorize", "bank", "--code", used,
                                    "--database-url", db_url], env=env)  # fmt: skip
        assert again.exit_code == 0, again.output
        refused = runner.invoke(app, ["weibo", "authorize", "bank", "--code", used,
                                      "--database-url", db_url], env=env)  # fmt: skip
        assert refused.exit_code == 2 and "21325" in refused.output
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    token = asyncio.run(_token(db_url))
    assert token is not None and token.status == "ok" and token.authorised_by == "cli"
    assert os.environ.get("KEFU_WEIBO_ACCOUNTS") is None
