"""Partners (CP) sending through the SMS API, against a carrier simulator in another process:
their own keys, address allow-list, sub-code, templates, daily quota, rate, audit, usage."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from kefu.bus.limits import InProcessLimits
from tests.channels.sms.test_demo import _wait
from tests.conftest import login
from tests.outbound.test_api import (  # noqa: F401 - simulator is a fixture
    MESSAGES,
    _mt,
    admin_key,
    approved_template,
    make_client,
    simulator,
)

pytestmark = pytest.mark.db

ALLOWED = "203.0.113.7"
PARTNER = {"name": "insurer", "display_name": "某某保险", "sub_code": "5566",
           "ip_allow": ["203.0.113.0/24", "2001:db8::/32"], "daily_quota": 5,
           "rate_per_second": 1000, "burst": 50}  # fmt: skip


class Env:
    def __init__(self, client: TestClient, control: str, url: str) -> None:
        self.client, self.control, self.url = client, control, url
        self.admin = {"Authorization": f"Bearer {admin_key(client)}"}
        made = client.post("/api/v1/partners", json=PARTNER, headers=self.admin)
        assert made.status_code == 201, made.text
        self.key = self.new_key()
        approved_template(url, "policy-live", "您的保单{policy}已生效。")
        client.put("/api/v1/partners/insurer/templates/policy-live", headers=self.admin)

    def new_key(self) -> dict[str, str]:
        made = self.client.post("/api/v1/partners/insurer/keys", headers=self.admin)
        return {"Authorization": f"Bearer {made.json()['key']}"}

    def send(self, to: list[str], headers: dict | None = None, client: TestClient | None = None,
             **body):  # type: ignore[no-untyped-def]  # fmt: skip
        body = {"template": "policy-live", "variables": {"policy": "P-1"}, **body}
        return (client or self.client).post(MESSAGES, json={"to": to, **body},
                                            headers=headers or self.key)  # fmt: skip

    def from_address(self, host: str) -> TestClient:
        """Another caller's address into the same running app (its event loop: the database
        connections belong to it)."""
        other = TestClient(self.client.app, client=(host, 40000))
        other.portal = self.client.portal
        return other

    def audit(self, action: str) -> list[dict]:
        rows = self.client.get("/api/v1/audit", params={"action": action}, headers=self.admin)
        return rows.json()

    def usage(self) -> dict:
        rows = self.client.get("/api/v1/partners-usage", headers=self.admin).json()
        return next(u for u in rows if u["partner"] == "insurer")


@pytest.fixture
def env(seeded_url: str, simulator):  # type: ignore[no-untyped-def]  # noqa: F811
    port, control = simulator
    with make_client(seeded_url, port, address=ALLOWED) as client:
        yield Env(client, control, seeded_url)


def test_a_partner_message_leaves_from_its_sub_code_and_is_audited(env: Env) -> None:
    sent = env.send(["13900000001"], idempotency_key="p-1")
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["accepted"][0]["id"]
    status = f"{MESSAGES}/{message_id}"
    _wait(lambda: env.client.get(status, headers=env.key).json()["state"] == "delivered")
    handset = _mt(env.control, "13900000001")[-1]
    assert handset["from"] == "955115566" and handset["text"] == "【kefu银行】您的保单P-1已生效。"
    (entry,) = env.audit("partner.sms.send")
    assert entry["actor"] == "apikey:partner:insurer:1" and entry["ip"] == ALLOWED
    assert entry["details"]["ids"] == [message_id] and entry["details"]["template"] == "policy-live"
    assert env.usage()["sent_today"] == 1
    # A partner reads its own messages only.
    bank = env.client.post(MESSAGES, json={"to": ["13900000002"], "text": "银行通知"},
                           headers=env.admin)  # fmt: skip
    bank_id = bank.json()["accepted"][0]["id"]
    assert env.client.get(f"{MESSAGES}/{bank_id}", headers=env.key).status_code == 404
    assert env.client.get(f"{MESSAGES}/{bank_id}", headers=env.admin).status_code == 200


def test_a_key_from_an_address_off_the_allow_list_is_refused(env: Env) -> None:
    outsider = env.from_address("198.51.100.9")
    # X-Forwarded-For is not believed: no proxy is configured (forwarded_allow_ips).
    headers = {**env.key, "X-Forwarded-For": ALLOWED}
    refused = env.send(["13900000003"], headers=headers, client=outsider)
    assert refused.status_code == 403 and refused.json()["rule"] == "ip_allow"
    assert "198.51.100.9" in refused.json()["detail"]
    v6 = env.from_address("2001:db8::5")
    assert env.send(["13900000003"], client=v6).status_code == 202
    assert [e["details"]["rule"] for e in env.audit("partner.sms.refused")] == ["ip_allow"]
    assert env.usage()["refused_today"] == 1


def test_templates_a_partner_may_not_use_and_free_text_are_refused(env: Env) -> None:
    approved_template(env.url, "bank-only", "银行内部通知{x}")
    before = len(_mt(env.control, "13900000004"))
    other = env.send(["13900000004"], template="bank-only", variables={"x": "1"})
    assert other.status_code == 403 and other.json()["rule"] == "template_not_allowed"
    free = env.send(["13900000004"], template=None, variables={}, text="随便发点什么")
    assert free.status_code == 422 and free.json()["rule"] == "free_text"
    time.sleep(0.2)
    assert len(_mt(env.control, "13900000004")) == before
    env.client.put("/api/v1/partners/insurer/templates/bank-only", headers=env.admin)
    assert env.send(["13900000004"], template="bank-only", variables={"x": "1"}).status_code == 202
    listed = env.client.get("/api/v1/sms/templates", headers=env.key).json()
    assert sorted(t["name"] for t in listed) == ["bank-only", "policy-live"]


def test_a_partner_writes_its_own_template_and_a_supervisor_approves_it(env: Env) -> None:
    made = env.client.post("/api/v1/sms/templates", headers=env.key,
                           json={"name": "ins-renewal", "kind": "notification",
                                 "body": "您的车险{plate}将于{date}到期"})  # fmt: skip
    assert made.status_code == 201 and made.json()["partner"] == "insurer"
    body = {"template": "ins-renewal", "variables": {"plate": "粤B12345", "date": "12月1日"}}
    draft = env.send(["13900000005"], **body)
    assert draft.status_code == 422 and draft.json()["rule"] == "template_approval"
    env.client.post("/api/v1/sms/templates/ins-renewal/submit", headers=env.key)
    # A partner approves nothing, not even its own.
    assert env.client.post("/api/v1/sms/templates/ins-renewal/approve", json={},
                           headers=env.key).status_code == 403  # fmt: skip
    # The bank cannot send a partner's template under its own name.
    bank = env.client.post(MESSAGES, json={"to": ["13900000005"], **body}, headers=env.admin)
    assert bank.status_code == 422 and "belongs to a partner" in bank.json()["detail"]
    login(env.client, "supervisor")
    approved = env.client.post("/api/v1/sms/templates/ins-renewal/approve", json={})
    assert approved.json()["status"] == "approved"
    env.client.cookies.clear()
    assert env.send(["13900000005"], **body).status_code == 202


def test_the_daily_quota_refuses_the_whole_request(env: Env) -> None:
    # The simulator outlives one test (module fixture): count what this test adds.
    before = len(_mt(env.control, "13900000014"))
    assert env.send(["13900000011", "13900000012", "13900000013"]).status_code == 202
    over = env.send(["13900000014", "13900000015", "13900000016"])
    assert over.status_code == 429 and over.json()["rule"] == "quota"
    assert 0 < int(over.headers["Retry-After"]) <= 86_400
    assert "used 3, asked 3" in over.json()["detail"]
    time.sleep(0.2)
    assert len(_mt(env.control, "13900000014")) == before
    assert env.send(["13900000014", "13900000015"]).status_code == 202  # exactly the quota
    usage = env.usage()
    assert usage["sent_today"] == 5 and usage["refused_today"] == 3


def test_the_rate_limit_answers_429_with_retry_after(env: Env) -> None:
    clock = [1000.0]
    env.client.app.state.limits = InProcessLimits(clock=lambda: clock[0])
    terms = {k: PARTNER[k] for k in ("display_name", "ip_allow", "daily_quota")}
    changed = env.client.put("/api/v1/partners/insurer", headers=env.admin,
                             json={**terms, "rate_per_second": 0.5, "burst": 2})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert env.send(["13900000021", "13900000022"]).status_code == 202
    limited = env.send(["13900000023"])
    assert limited.status_code == 429 and limited.json()["rule"] == "rate"
    assert limited.headers["Retry-After"] == "2"  # one token at 0.5/s
    too_many = env.send(["13900000024", "13900000025", "13900000026"])
    assert too_many.status_code == 422 and too_many.json()["rule"] == "burst"
    clock[0] += 2.0
    assert env.send(["13900000023"]).status_code == 202


def test_a_retry_with_the_same_idempotency_key_returns_the_originals(env: Env) -> None:
    second_key = env.new_key()  # the partner's retry comes with another of its keys
    body = {"idempotency_key": "batch-7"}
    before = len(_mt(env.control, "13900000031"))
    first = env.send(["13900000031", "13900000032", "13900000033"], **body)
    assert first.status_code == 202
    for _ in range(3):  # not counted against the quota (5) again
        again = env.send(["13900000031", "13900000032", "13900000033"], second_key, **body)
        assert again.status_code == 202
        assert [(a["id"], a["to"]) for a in again.json()["accepted"]] == [
            (a["id"], a["to"]) for a in first.json()["accepted"]
        ]
    assert env.usage()["sent_today"] == 3
    _wait(lambda: len(_mt(env.control, "13900000031")) > before)
    time.sleep(0.3)
    assert len(_mt(env.control, "13900000031")) == before + 1  # sent once
    # A retry adding one number queues only that one.
    grown = env.send(["13900000031", "13900000034"], second_key, **body)
    assert [a["id"] for a in grown.json()["accepted"]][0] == first.json()["accepted"][0]["id"]
    assert env.usage()["sent_today"] == 4


def test_revoked_keys_and_disabled_partners_are_refused(env: Env) -> None:
    revoked = env.client.delete("/api/v1/partners/insurer/keys/partner:insurer:1",
                                headers=env.admin)  # fmt: skip
    assert revoked.status_code == 204
    assert env.send(["13900000041"]).status_code == 401
    key = env.new_key()
    env.client.post("/api/v1/partners/insurer/disable", headers=env.admin)
    disabled = env.send(["13900000041"], key)
    assert disabled.status_code == 403 and disabled.json()["rule"] == "partner_disabled"
    env.client.post("/api/v1/partners/insurer/enable", headers=env.admin)
    assert env.send(["13900000041"], key).status_code == 202
    # A partner's key is for sending: no admin, no home page, no users.
    assert env.client.get("/api/v1/partners", headers=key).status_code == 403
    assert env.client.get("/api/v1/users", headers=key).status_code == 403


def test_the_admin_pages_show_usage_and_refusals(env: Env) -> None:
    env.send(["13900000051"])
    env.from_address("192.0.2.1").post(
        MESSAGES, json={"to": ["13900000052"], "template": "policy-live",
                        "variables": {"policy": "x"}}, headers=env.key)  # fmt: skip
    login(env.client, "admin")
    listing = env.client.get("/partners")
    assert listing.status_code == 200 and 'data-testid="chart-partners"' in listing.text
    assert "某某保险" in listing.text
    detail = env.client.get("/partners/insurer")
    assert "ip_allow" in detail.text and "192.0.2.1 is not on the allow-list" in detail.text
    env.client.cookies.clear()
    login(env.client, "supervisor")
    assert env.client.get("/partners").status_code == 403
