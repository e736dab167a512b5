"""`kefu run sms` as its own process, against `kefu sms simulator` in another."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.channels.sms.test_demo import _free_ports, _wait
from tests.conftest import seed_sync

pytestmark = pytest.mark.db


def test_gateway_process_answers_texts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    from kefu.db.migrate import upgrade

    upgrade(url)
    seed_sync(url, 10)
    port, control = _free_ports(2)
    kefu = [sys.executable, "-m", "kefu.cli"]
    sim = subprocess.Popen(
        [*kefu, "sms", "simulator", "--protocol", "smpp", "--port", str(port), "--control-port",
         str(control), "--username", "kefu", "--password", "secret"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    link = {
        "name": "smsc",
        "protocol": "smpp",
        "port": port,
        "username": "kefu",
        "password": "secret",
    }
    env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SMS_LINKS": json.dumps([link])}
    gateway = None
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{control}/stats", timeout=1).status_code == 200)
        gateway = subprocess.Popen([*kefu, "run", "sms"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)  # fmt: skip
        _wait(
            lambda: (
                httpx.get(f"http://127.0.0.1:{control}/stats", timeout=1).json()["sessions"] >= 1
            )
        )
        httpx.post(
            f"http://127.0.0.1:{control}/mo",
            json={"from": "13600000001", "to": "95511", "text": "帮助"},
        )
        replies = _wait(
            lambda: httpx.get(f"http://127.0.0.1:{control}/mt", params={"to": "13600000001"}).json()
        )
        assert "ZD账单" in replies[0]["text"]
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(timeout=20)
        sim.terminate()
        sim.wait(timeout=10)
    assert gateway.returncode == 0, gateway.stdout.read() if gateway.stdout else ""
