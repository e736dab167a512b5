"""Issue 21, finding 11: an idempotency key reused with a different body is a conflict (409),
not a silent replay that drops the new text."""

from __future__ import annotations

import pytest

from tests.outbound.test_api import MESSAGES, api, simulator  # noqa: F401 - fixtures

pytestmark = pytest.mark.db


def test_a_key_reused_with_another_body_is_a_conflict(api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client, _control = api
    body = {"to": ["13800000031"], "text": "您的账单已出。", "idempotency_key": "bill-42"}
    first = client.post(MESSAGES, json=body)
    assert first.status_code == 202, first.text
    changed = client.post(MESSAGES, json={**body, "text": "完全不同的一条短信。"})
    assert changed.status_code == 409, changed.text
    assert changed.headers["content-type"] == "application/problem+json"
    assert "bill-42" in changed.json()["detail"]
    retry = client.post(MESSAGES, json=body)  # the same request again is still a retry
    assert retry.status_code == 202
    assert retry.json()["accepted"][0]["id"] == first.json()["accepted"][0]["id"]
    # The key is per recipient: a retry that adds a number queues that one only.
    grown = client.post(MESSAGES, json={**body, "to": ["13800000031", "13800000032"]})
    assert grown.status_code == 202
    assert grown.json()["accepted"][0]["id"] == first.json()["accepted"][0]["id"]
    template = client.post(MESSAGES, json={**body, "kind": "marketing"})
    assert template.status_code == 409
