"""The SMS API for bank systems, against a carrier simulator in another process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from kefu.app import create_app
from kefu.auth import service as auth_service
from kefu.channels.sms.config import SmsLink
from kefu.config import load_settings
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.outbound import api as sms_api
from kefu.outbound import consent, templates
from kefu.outbound.api import SendOut
from tests.channels.sms.test_demo import _free_ports, _wait
from tests.conftest import login

pytestmark = pytest.mark.db

NOON = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 China time
NIGHT = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00 China time
MESSAGES = "/api/v1/sms/messages"


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
        _wait(
            lambda: httpx.get(f"http://127.0.0.1:{control}/stats", timeout=1).status_code == 200,
            timeout=120,
        )  # a simulator subprocess starts slowly on a loaded machine
        yield port, f"http://127.0.0.1:{control}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_client(url: str, port: int, address: str = "testclient", **settings):  # type: ignore[no-untyped-def]
    link = SmsLink(name="smsc", protocol="smpp", port=port, username="kefu", password="secret")
    config = load_settings(database_url=url, secret_key="t", sms_links=[link.model_dump()],
                           **settings)  # fmt: skip
    return TestClient(create_app(config), client=(address, 50000))


def admin_key(client, name: str = "core") -> str:  # type: ignore[no-untyped-def]
    login(client, "admin")
    key = client.post("/api/v1/api-keys", json={"name": name, "role": "admin"}).json()["key"]
    client.cookies.clear()
    return key


def in_session(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def approved_template(url: str, name: str, body: str, kind: str = "notification",
                      partner_id: int | None = None, status: str = "approved") -> None:  # fmt: skip
    """A template written by one person and approved by another (as the service requires)."""

    async def work(session):  # type: ignore[no-untyped-def]
        template = await templates.create(session, name=name, kind=kind, body=body,
                                          actor="author", partner_id=partner_id)  # fmt: skip
        if status != "draft":
            await templates.submit(session, template, actor="author")
        if status == "approved":
            await templates.review(session, template, actor="checker", approve=True)

    in_session(url, work)


def consented(url: str, *phones: str) -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        for phone in phones:
            await consent.give(session, phone=phone, source="branch", actor="test")

    in_session(url, work)


@pytest.fixture
def api(seeded_url: str, simulator, monkeypatch):  # type: ignore[no-untyped-def]
    port, control = simulator
    monkeypatch.setattr(sms_api, "now", lambda: NOON)
    with make_client(seeded_url, port) as client:
        client.headers["Authorization"] = f"Bearer {admin_key(client)}"
        yield client, control


def _delivered(client, message_id: int) -> bool:  # type: ignore[no-untyped-def]
    return client.get(f"{MESSAGES}/{message_id}").json()["state"] == "delivered"


def _mt(control: str, to: str) -> list[dict]:
    return httpx.get(control + "/mt", params={"to": to}).json()


def test_send_then_status_and_idempotency(api) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    # The simulator outlives one test (module fixture): count what this test adds.
    before = len(_mt(control, "13800000001"))
    body = {"to": ["13800000001", "+8613800000002"], "text": "您的3月账单已出，应还¥1,234.56。",
            "kind": "notification", "idempotency_key": "bill-2026-03"}  # fmt: skip
    first = client.post(MESSAGES, json=body)
    assert first.status_code == 202, first.text
    ids = [m["id"] for m in first.json()["accepted"]]
    assert [m["to"] for m in first.json()["accepted"]] == ["13800000001", "13800000002"]
    again = client.post(MESSAGES, json=body)
    assert [m["id"] for m in again.json()["accepted"]] == ids  # nothing queued twice
    for message_id in ids:
        _wait(lambda m=message_id: _delivered(client, m))
    status = client.get(f"{MESSAGES}/{ids[0]}").json()
    assert status["report"] == "DELIVRD" and status["sent_at"] and status["delivered_at"]
    received = _mt(control, "13800000001")
    assert len(received) == before + 1 and received[-1]["text"].startswith(
        "【kefu银行】您的3月账单"
    )


def test_the_longest_key_name_and_idempotency_key_still_deduplicate(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    saved = client.headers.pop("Authorization")
    login(client, "admin")
    long_name = "k" * 64
    key = client.post("/api/v1/api-keys", json={"name": long_name, "role": "admin"}).json()["key"]
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {key}"
    body = {"to": ["13800000066"], "text": "通知", "idempotency_key": "i" * 64}
    first = client.post(MESSAGES, json=body)
    assert first.status_code == 202, first.text  # would not fit the outbox column unhashed
    assert (
        client.post(MESSAGES, json=body).json()["accepted"][0]["id"]
        == (first.json()["accepted"][0]["id"])
    )
    client.headers["Authorization"] = saved


def test_a_template_with_variables_reaches_the_handset(api, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    approved_template(seeded_url, "bill-ready", "您{month}月账单已出，应还{amount}元。")
    sent = client.post(MESSAGES, json={"to": ["13800000011"], "template": "bill-ready",
                                       "variables": {"month": 3, "amount": "1,234.56"}})  # fmt: skip
    assert sent.status_code == 202, sent.text
    _wait(lambda: _delivered(client, sent.json()["accepted"][0]["id"]))
    assert _mt(control, "13800000011")[-1]["text"] == "【kefu银行】您3月账单已出，应还1,234.56元。"


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
        ({"to": ["13800000001"]}, "template"),
        ({"to": ["13800000001"], "text": "x", "template": "bill"}, "template"),
        ({"to": ["13800000001"], "text": "x", "variables": {"a": "b"}}, "variables"),
        ({"to": ["13800000001"], "text": "x", "callback": "y"}, "callback"),
        ({"to": ["13800000001"], "template": "no-such"}, "template"),
        ({"to": ["13800000001"], "template": "tpl-pending", "variables": {"n": 1}}, "template"),
        ({"to": ["13800000001"], "template": "tpl", "variables": {}}, "variables"),
        ({"to": ["13800000001"], "template": "tpl", "variables": {"n": 1, "m": 2}}, "variables"),
        ({"to": ["13800000001"], "template": "tpl", "variables": {"n": "1\n2"}}, "variables.n"),
        ({"to": ["13800000001"], "template": "tpl", "variables": {"n": 1}, "kind": "otp"}, "kind"),
        ({"to": ["13800000001"], "text": "理财", "kind": "marketing"}, "template"),
    ],
)
def test_bad_requests_name_the_field_and_queue_nothing(api, seeded_url, body, field) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    approved_template(seeded_url, "tpl", "您的验证码{n}")
    approved_template(seeded_url, "tpl-pending", "您的验证码{n}", status="pending")
    body = {**body, "to": [n.replace("13800000001", "13800000077") for n in body["to"]]}
    response = client.post(MESSAGES, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.json()["detail"]
    time.sleep(0.2)
    assert _mt(control, "13800000077") == []


def test_marketing_rules_refuse_per_recipient_and_sign_with_the_hint(api, seeded_url) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    approved_template(seeded_url, "wealth", "{product}新品上线，年化{rate}", kind="marketing")
    httpx.post(control + "/mo", json={"from": "13800000009", "to": "95511", "text": "TD"})
    _wait(lambda: _mt(control, "13800000009"))  # "退订成功"
    consented(seeded_url, "13800000009", "13800000008")  # TD wins over the consent
    body = {"to": ["13800000009", "13800000008", "13800000007"], "template": "wealth",
            "variables": {"product": "稳盈", "rate": "3.1%"}, "idempotency_key": "wealth-1"}  # fmt: skip
    sent = client.post(MESSAGES, json=body)
    assert sent.status_code == 202, sent.text
    refused = {r["to"]: r["rule"] for r in sent.json()["refused"]}
    assert refused == {"13800000009": "opt_out", "13800000007": "consent"}
    assert all(r["reason"] for r in sent.json()["refused"])
    (accepted,) = sent.json()["accepted"]
    assert accepted["to"] == "13800000008"
    _wait(lambda: _delivered(client, accepted["id"]))
    assert (
        _mt(control, "13800000008")[-1]["text"] == "【kefu银行】稳盈新品上线，年化3.1%。拒收请回复R"
    )
    # The same request again returns the original, though the day's cap is now reached …
    again = client.post(MESSAGES, json=body).json()
    assert [a["id"] for a in again["accepted"]] == [accepted["id"]]
    # … while a new request is refused by the cap (marketing: one a day by default).
    capped = client.post(MESSAGES, json={**body, "idempotency_key": "wealth-2"}).json()
    assert capped["accepted"] == []
    assert {"to": "13800000008", "rule": "cap_day",
            "reason": "already 1 marketing messages today (cap 1)"} in capped["refused"]  # fmt: skip


def test_quiet_hours_refuse_the_whole_request(api, seeded_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    approved_template(seeded_url, "night", "夜间特惠{x}", kind="marketing")
    consented(seeded_url, "13800000006")
    monkeypatch.setattr(sms_api, "now", lambda: NIGHT)
    night = client.post(MESSAGES, json={"to": ["13800000006"], "template": "night",
                                        "variables": {"x": "1"}})  # fmt: skip
    assert night.status_code == 422 and night.json()["rule"] == "quiet_hours"
    assert "08:00 and 22:00" in night.json()["detail"]
    time.sleep(0.2)
    assert _mt(control, "13800000006") == []


def test_roles_and_keys(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    assert client.get(f"{MESSAGES}/999999").status_code == 404
    client.headers["Authorization"] = "Bearer kefu_revoked-or-wrong-000000"
    assert client.post(MESSAGES, json={"to": ["13800000001"], "text": "x"}).status_code == 401
    del client.headers["Authorization"]
    login(client, "agent1")
    assert client.post(MESSAGES, json={"to": ["13800000001"], "text": "x"}).status_code == 403


def test_a_revoked_key_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    client, control = api
    saved = client.headers.pop("Authorization")
    login(client, "admin")
    spare = client.post("/api/v1/api-keys", json={"name": "spare", "role": "admin"}).json()["key"]
    assert client.delete("/api/v1/api-keys/spare").status_code == 204
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {spare}"
    refused = client.post(MESSAGES, json={"to": ["13800000055"], "text": "x"})
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    client.headers["Authorization"] = saved
    time.sleep(0.2)
    assert _mt(control, "13800000055") == []


def test_the_send_route_keeps_its_body_checks(api) -> None:  # type: ignore[no-untyped-def]
    # The send API is the first route matched (kefu.app): the size limit and the body's
    # validation still run before anything is queued.
    client, control = api
    json_type = {"content-type": "application/json"}
    big = b'{"to": ["13800000977"], "text": "' + b"x" * 1_100_000 + b'"}'
    oversized = client.post(MESSAGES, content=big, headers=json_type)
    assert oversized.status_code == 413 and "over 1048576 bytes" in oversized.json()["detail"]
    broken = client.post(MESSAGES, content=b'{"to": ["13800000977"], "text": ', headers=json_type)
    assert broken.status_code == 422, broken.text
    assert broken.headers["content-type"].startswith("application/problem+json")
    extra = client.post(MESSAGES, json={"to": ["13800000977"], "text": "x", "sender": "me"})
    assert extra.status_code == 422 and "sender" in extra.text  # unknown fields are refused
    time.sleep(0.2)
    assert _mt(control, "13800000977") == []


def test_the_send_api_is_matched_first_and_by_no_other_route(client) -> None:  # type: ignore[no-untyped-def]
    # Its router comes first so that a send request is not matched against every other route
    # (~0.25 CPU-ms a request); that is only safe while no other route matches its paths.
    from starlette.routing import Match

    routes = client.app.router.routes
    mine = next(i for i, r in enumerate(routes) if getattr(r, "original_router", None)
                is sms_api.router)  # fmt: skip
    assert all(not hasattr(r, "original_router") for r in routes[:mine])  # FastAPI's docs only
    for method, path in [("POST", MESSAGES), ("GET", f"{MESSAGES}/5")]:
        scope = {"type": "http", "method": method, "path": path, "root_path": "",
                 "headers": [], "query_string": b""}  # fmt: skip
        full = [i for i, r in enumerate(routes) if r.matches(dict(scope))[0] != Match.NONE]
        assert full == [mine], (method, path)


def test_without_links_the_api_says_so(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    response = client.post(MESSAGES, json={"to": ["13800000001"], "text": "x"})
    assert response.status_code == 503 and "KEFU_SMS_LINKS" in response.json()["detail"]


def test_serve_without_its_gateway_queues_and_says_what_may_be_duplicated(  # type: ignore[no-untyped-def]
    seeded_url, simulator, monkeypatch
) -> None:
    """KEFU_SMS_GATEWAY_IN_WEB=false: the web process queues and binds nothing (``kefu run sms``
    sends); a row sent again without a report shows ``possibly_duplicated`` in its status."""
    port, control = simulator
    monkeypatch.setattr(sms_api, "now", lambda: NOON)
    with make_client(seeded_url, port, sms_gateway_in_web=False) as client:
        assert client.app.state.sms.clients == {}  # no link bound in this process
        client.headers["Authorization"] = f"Bearer {admin_key(client)}"
        sent = client.post(
            MESSAGES, json={"to": ["13800000077"], "text": "通知", "kind": "notification"}
        )
        assert sent.status_code == 202, sent.text
        (accepted,) = sent.json()["accepted"]
        time.sleep(1.5)
        status = client.get(f"{MESSAGES}/{accepted['id']}").json()
        assert status["state"] == "accepted" and _mt(control, "13800000077") == []
        assert status["possibly_duplicated"] is False and status["report_matched"] is None

        async def resent(session):  # type: ignore[no-untyped-def]
            from kefu.channels.sms.models import SmsMessage

            row = await session.get(SmsMessage, accepted["id"])
            row.meta = {"possibly_duplicated": True, "report_matched": "number"}

        in_session(seeded_url, resent)
        status = client.get(f"{MESSAGES}/{accepted['id']}").json()
        assert status["possibly_duplicated"] is True and status["report_matched"] == "number"


# ---------------------------------------------------------------- the HTTP side (issue #24)
# No session unless the request needs one, the caller checked without get_db, the answer built
# without a second validation, and nothing of the route's contract changed (OpenAPI, refusals
# and their order).

# The send route's OpenAPI operations and schemas as they were before this pass (6615bec),
# sorted: the document must not change with how the answer is built.
BEFORE = Path(__file__).parent / "data" / "send_api_openapi.json"


def test_the_send_routes_openapi_is_what_it_was() -> None:
    app = create_app(load_settings(database_url="sqlite+aiosqlite:///:memory:", secret_key="t"))
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    now = {"paths": doc["paths"][MESSAGES],
           "schemas": {k: schemas[k] for k in ("SendIn", "SendOut", "Accepted", "Refused")}}  # fmt: skip
    assert json.loads(json.dumps(now)) == json.loads(BEFORE.read_text())


class Counting:
    """The app's sessionmaker, counting the sessions the requests open."""

    def __init__(self, maker) -> None:  # type: ignore[no-untyped-def]
        self.maker, self.opened = maker, 0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.opened += 1
        return self.maker(*args, **kwargs)


def test_a_bank_notification_opens_no_session_and_an_idempotent_one_does(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    # The key's cache entry lives 2 s; a loaded machine may take longer between two requests,
    # and a key read again opens a session (rightly): here it lives for the whole test.
    monkeypatch.setattr(auth_service._verified, "ttl", 600.0)
    state = client.app.state
    for number in ("13800000700", "13800000701"):  # the key's first use writes its
        # last_used_at, which empties the key cache; the second read is the one kept
        warm = client.post(MESSAGES, json={"to": [number], "text": "预热", "kind": "notification"})
        assert warm.status_code == 202, warm.text
    counting = Counting(state.sessionmaker)
    state.sessionmaker = counting
    try:
        sent = client.post(MESSAGES, json={"to": ["13800000702"], "text": "您的账单已出。"})
        assert sent.status_code == 202, sent.text
        assert counting.opened == 0  # the caller, the policy and the queue needed no session
        # The answer is SendOut's JSON, though response_model no longer re-validates it.
        assert SendOut.model_validate(sent.json()).model_dump() == sent.json()
        assert [m["to"] for m in sent.json()["accepted"]] == ["13800000702"]
        assert sent.json()["refused"] == []
        body = {"to": ["13800000703"], "text": "还款提醒", "idempotency_key": "h7-lazy-1"}
        first = client.post(MESSAGES, json=body)
        assert first.status_code == 202 and counting.opened == 1  # the key is looked up
        again = client.post(MESSAGES, json=body)
        ids = [m["id"] for m in first.json()["accepted"]]
        assert [m["id"] for m in again.json()["accepted"]] == ids  # the original, read again
        reused = client.post(MESSAGES, json={**body, "text": "另一条"})
        assert reused.status_code == 409, reused.text  # the key with another request
    finally:
        state.sessionmaker = counting.maker


def test_the_callers_refusals_are_unchanged_and_come_before_the_body(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    saved = client.headers.pop("Authorization")
    bad_body = {"to": ["12345"], "text": ""}  # 422 for a caller who may send
    anonymous = client.post(MESSAGES, json=bad_body)
    assert anonymous.status_code == 401 and anonymous.json()["detail"] == "login required"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    client.headers["Authorization"] = "Bearer kefu_not-a-key-of-anyone-0000000"
    wrong = client.post(MESSAGES, json=bad_body)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid or revoked API key"
    assert wrong.headers["www-authenticate"] == "Bearer"
    del client.headers["Authorization"]
    login(client, "agent1")  # a signed-in person without sms.send
    agent = client.post(MESSAGES, json=bad_body)
    assert agent.status_code == 403
    assert agent.json()["detail"] == "role 'agent' may not use this (sms.send)"
    client.cookies.clear()
    client.headers["Authorization"] = saved
    allowed = client.post(MESSAGES, json=bad_body)
    assert allowed.status_code == 422  # only a caller who may send hears about the body


def test_a_signed_in_admin_still_sends_through_the_cookie(api) -> None:  # type: ignore[no-untyped-def]
    # The cookie path reads the person and their session row: the lazy session opens for it.
    client, _ = api
    saved = client.headers.pop("Authorization")
    try:
        login(client, "admin")
        sent = client.post(MESSAGES, json={"to": ["13800000704"], "text": "柜面通知"})
        assert sent.status_code == 202, sent.text
        assert [m["to"] for m in sent.json()["accepted"]] == ["13800000704"]
    finally:
        client.cookies.clear()
        client.headers["Authorization"] = saved
