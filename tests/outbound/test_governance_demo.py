"""The demo's governed-outbound data: approved templates (two people), consents, a partner."""

from __future__ import annotations

import asyncio

import pytest

from kefu.demo import bound_demo_phones
from kefu.outbound.demo import PARTNER, ensure_governance_demo
from tests.conftest import login

pytestmark = pytest.mark.db


def test_the_demo_data_is_approved_by_a_second_person_and_idempotent(seeded_url, client) -> None:  # type: ignore[no-untyped-def]
    phones = asyncio.run(bound_demo_phones(seeded_url))
    for _ in range(2):
        asyncio.run(ensure_governance_demo(seeded_url, phones))
    login(client, "admin")
    listed = client.get("/api/v1/sms/templates").json()
    assert {t["name"] for t in listed} == {"bill-ready", "wealth-offer", "policy-live"}
    assert all(t["status"] == "approved" and t["reviewed_by"] != t["created_by"] for t in listed)
    (partner,) = client.get("/api/v1/partners").json()
    assert partner["name"] == PARTNER and partner["templates"] == ["policy-live"]
    history = client.get("/api/v1/marketing/consents", params={"phone": phones[0]}).json()
    assert len(history) == 1 and history[0]["withdrawn_at"] is None
