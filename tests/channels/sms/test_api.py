"""The SMS API for bank systems, against a carrier simulator in another process."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from kefu.app import create_app
from kefu.channels.sms import api as sms_api
from kefu.channels.sms.config import SmsLink
from kefu.config import load_settings
from tests.channels.sms.test_demo import _free_ports, _wait
from tests.conftest import login

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def simulator():  # type: ignore[no-untyped-def]
    port, control = _free_ports(2)
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "sms", "simulator", "--protocol", "smpp", "--port",
         str(port), "--control-port", str(control), "--username", "kefu", "--password", "secret",
         "--report-delay", "0.05"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{control}/stats", timeout=1).status_code == 200)
        yield port, f"http://127.0.0.1:{control}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def api(seeded_url: str, simulator):  # type: ignore[no-untyped-def]
    port, control = simulator
    link = SmsLink(name="smsc", protocol="smpp", port=port, username="kefu", password="secret")
    settings = load_settings(database_url=seeded_url, secret_key="t", sms_links=[link.model_dump()])
    with TestClient(create_app(settings)) as client:
        login(client, "admin")
        key = client.post("/api/v1/api-keys", json={"name": "core", "role": "admin"}).json()["key"]
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, control


def _delivered(client, message_id: int) -> bool:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/sms/messages/{message_id}").json()["state"] == "delivered"


def test_send_then_status_and_idempotency(api) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    # The simulator outlives one test (module fixture): count what this test adds.
    before = len(httpx.get(control + "/mt", params={"to": "13800000001"}).json())
    body = {"to": ["13800000001", "+8613800000002"], "text": "您的3月账单已出，应还¥1,234.56。",
            "kind": "notification", "idempotency_key": "bill-2026-03"}  # fmt: skip
    first = client.post("/api/v1/sms/messages", json=body)
    assert first.status_code == 202, first.text
    ids = [m["id"] for m in first.json()["accepted"]]
    assert [m["to"] for m in first.json()["accepted"]] == ["13800000001", "13800000002"]
    again = client.post("/api/v1/sms/messages", json=body)
    assert [m["id"] for m in again.json()["accepted"]] == ids  # nothing queued twice
    for message_id in ids:
        _wait(lambda m=message_id: _delivered(client, m))
    status = client.get(f"/api/v1/sms/messages/{ids[0]}").json()
    assert status["report"] == "DELIVRD" and status["sent_at"] and status["delivered_at"]
    received = httpx.get(control + "/mt", params={"to": "13800000001"}).json()
    assert len(received) == before + 1 and received[-1]["text"].startswith(
        "【kefu银行】您的3月账单"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": ["12345"], "text": "x"}, "to"),
        ({"to": ["13800000001", "13800000001"], "text": "x"}, "to"),
        ({"to": [], "text": "x"}, "to"),
        ({"to": ["13800000001"], "text": ""}, "text"),
        ({"to": ["13800000001"], "text": "长" * 400}, "text"),
        ({"to": ["13800000001"], "text": "x", "kind": "spam"}, "kind"),
        ({"to": ["13800000001"], "text": "x", "link": "nope"}, "link"),
        ({"to": ["13800000001"], "text": "x", "idempotency_key": "bad key!"}, "idempotency_key"),
    ],
)
def test_bad_requests_name_the_field_and_queue_nothing(api, body, field) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    body = {**body, "to": [n.replace("13800000001", "13800000077") for n in body["to"]]}
    response = client.post("/api/v1/sms/messages", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    time.sleep(0.2)
    assert httpx.get(control + "/mt", params={"to": "13800000077"}).json() == []


def test_marketing_honours_opt_out_and_quiet_hours(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    httpx.post(control + "/mo", json={"from": "13800000009", "to": "95511", "text": "TD"})
    _wait(lambda: httpx.get(control + "/mt", params={"to": "13800000009"}).json())  # "退订成功"
    monkeypatch.setattr(
        sms_api, "now_in_china", lambda: datetime(2026, 11, 29, 10, 0, tzinfo=sms_api.CHINA)
    )
    sent = client.post("/api/v1/sms/messages", json={"to": ["13800000009", "13800000008"], "text": "理财新品上线",
                                                     "kind": "marketing"})  # fmt: skip
    assert sent.status_code == 202
    assert [r["to"] for r in sent.json()["refused"]] == ["13800000009"]
    assert "opt-out" in sent.json()["refused"][0]["rule"]
    assert [a["to"] for a in sent.json()["accepted"]] == ["13800000008"]
    monkeypatch.setattr(
        sms_api, "now_in_china", lambda: datetime(2026, 11, 29, 23, 0, tzinfo=sms_api.CHINA)
    )
    night = client.post(
        "/api/v1/sms/messages", json={"to": ["13800000008"], "text": "理财", "kind": "marketing"}
    )
    assert night.status_code == 422 and "quiet hours" in night.json()["detail"]


def test_roles_and_keys(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    assert client.get("/api/v1/sms/messages/999999").status_code == 404
    client.headers["Authorization"] = "Bearer kefu_revoked-or-wrong-000000"
    assert (
        client.post("/api/v1/sms/messages", json={"to": ["13800000001"], "text": "x"}).status_code
        == 401
    )
    del client.headers["Authorization"]
    login(client, "agent1")
    assert (
        client.post("/api/v1/sms/messages", json={"to": ["13800000001"], "text": "x"}).status_code
        == 403
    )


def test_without_links_the_api_says_so(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    response = client.post("/api/v1/sms/messages", json={"to": ["13800000001"], "text": "x"})
    assert response.status_code == 503 and "KEFU_SMS_LINKS" in response.json()["detail"]
