"""`kefu demo` runs carrier simulators and links in one process; a customer texts the hall
from the browser page and from the terminal phone."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import CSRF

pytestmark = pytest.mark.db


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _wait(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_demo_texts_the_hall_from_the_browser_page_and_the_terminal(tmp_path: Path) -> None:
    web, smpp, smpp_ctl, cmpp, cmpp_ctl, wechat, weibo = _free_ports(7)
    env = {**os.environ, "KEFU_SECRET_KEY": "demo-test"}
    env.pop("KEFU_DATABASE_URL", None)
    kefu = [sys.executable, "-m", "kefu.cli"]
    log_path = tmp_path / "kefu.log"
    log = log_path.open("ab")  # a file, not an unread pipe: a full pipe stalls kefu
    demo = subprocess.Popen(
        [*kefu, "demo", "--customers", "200", "--port", str(web), "--smpp-port", str(smpp),
         "--smpp-control-port", str(smpp_ctl), "--cmpp-port", str(cmpp),
         "--cmpp-control-port", str(cmpp_ctl), "--wechat-port", str(wechat),
         "--weibo-port", str(weibo), "--database-url", "sqlite:///demo.db"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{web}"
    try:
        _wait(lambda: httpx.get(base + "/readyz", timeout=1).status_code == 200, timeout=120)
        with httpx.Client(base_url=base, timeout=10) as client:
            token = CSRF.search(client.get("/login").text).group(1)
            client.post(
                "/login", data={"username": "agent1", "password": "kefu-demo-2026", "csrf": token}
            )
            page = client.get("/demo/phone")
            assert page.status_code == 200
            phone = re.search(r"/demo/phone\?phone=(1\d{10})", page.text).group(1)
            token = CSRF.search(page.text).group(1)
            for link in ("demo-smpp", "demo-cmpp"):
                before = client.get(f"/demo/phone/thread?phone={phone}").text.count('class="bank"')
                sent = client.post("/demo/phone", data={"phone": phone, "text": "余额", "link": link, "csrf": token},
                                   follow_redirects=False)  # fmt: skip
                assert sent.status_code == 303
                _wait(
                    lambda b=before: (
                        client.get(f"/demo/phone/thread?phone={phone}").text.count('class="bank"')
                        > b
                    )
                )
            thread = client.get(f"/demo/phone/thread?phone={phone}").text
            assert "余额" in thread and "【kefu银行】" in thread
        terminal = subprocess.run(
            [*kefu, "phone", "13911112222", "--control-url", f"http://127.0.0.1:{smpp_ctl}"],
            input="H\n\n", capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert terminal.returncode == 0, terminal.stdout + terminal.stderr
        assert "ZD账单" in terminal.stdout
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        log.close()
    assert "bound demo customers" in log_path.read_text()


def test_a_demo_port_in_use_is_named_before_anything_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "kefu.cli", "demo", "--smpp-port", str(busy),
             "--database-url", f"sqlite:///{tmp_path / 'kefu.db'}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert out.returncode != 0
    assert f"--smpp-port: 127.0.0.1:{busy} is already in use" in out.stderr + out.stdout
    assert not (tmp_path / "kefu.db").exists()  # nothing was created
