"""Recorded consent: give, withdraw, history; bad input; who may record it."""

from __future__ import annotations

import asyncio

import pytest

from kefu.demo import bound_demo_phones
from tests.conftest import login

pytestmark = pytest.mark.db

URL = "/api/v1/marketing/consents"


def test_give_withdraw_and_give_again_keeps_the_history(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    first = client.post(URL, json={"phone": "+8613800000001", "source": "branch",
                                   "evidence": "表单 A-17"})  # fmt: skip
    assert first.status_code == 201 and first.json()["phone"] == "13800000001"
    again = client.post(URL, json={"phone": "13800000001", "source": "web"})
    assert again.json()["id"] == first.json()["id"]  # an open consent is not duplicated
    withdrawn = client.post(URL + "/withdraw", json={"phone": "13800000001", "source": "call"})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["withdrawn_at"] and withdrawn.json()["withdrawn_source"] == "call"
    twice = client.post(URL + "/withdraw", json={"phone": "13800000001", "source": "call"})
    assert twice.status_code == 404 and "no open consent" in twice.json()["detail"]
    client.post(URL, json={"phone": "13800000001", "source": "app"})
    history = client.get(URL, params={"phone": "13800000001"}).json()
    assert [(h["source"], bool(h["withdrawn_at"])) for h in history] == [
        ("branch", True),
        ("app", False),
    ]
    client.cookies.clear()
    login(client, "admin")
    audit = client.get("/api/v1/audit", params={"limit": 20}).json()
    # This number's entries only: the seeded demo records consents of its own (e.g. the web
    # chat visitor of the banner campaign).
    mine = {f"consent:{first.json()['id']}", f"consent:{history[-1]['id']}"}
    actions = [e["action"] for e in audit
               if e["action"].startswith("consent.") and e["target"] in mine]  # fmt: skip
    assert actions.count("consent.give") == 2 and actions.count("consent.withdraw") == 1


def test_consent_of_a_bound_number_names_the_customer(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    phone = asyncio.run(bound_demo_phones(client.app.state.settings.database_url, 1))
    assert phone, "the seeded demo has bound phones"
    made = client.post(URL, json={"phone": phone[0], "source": "app"})
    assert made.status_code == 201 and made.json()["customer_id"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345", "source": "branch"}, "phone"),
        ({"phone": "13800000001", "source": "rumour"}, "source"),
        ({"phone": "13800000001", "source": "web", "kind": "otp"}, "kind"),
        ({"phone": "13800000001", "source": "web", "evidence": "x" * 201}, "evidence"),
        ({"source": "web"}, "phone"),
    ],
)
def test_bad_consent_requests_name_the_field(client, body, field) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    response = client.post(URL, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert client.get(URL, params={"phone": "13800000001"}).json() == []


def test_agents_do_not_record_consent(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    assert client.post(URL, json={"phone": "13800000001", "source": "web"}).status_code == 403
