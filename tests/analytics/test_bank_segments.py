"""Bank segments: signed-in visitors' age band, tier and products, joined on the server through
the keyed hash — counts match the bank's own profiles; no number or hash reaches the page."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient

from kefu.analytics.bank_segments import age_band
from kefu.analytics.enrich import customer_hash
from kefu.analytics.service import analytics_of, hash_key
from tests.analytics.conftest import CHROME
from tests.conftest import login


def test_age_bands() -> None:
    today = date(2026, 12, 6)
    assert age_band(date(2002, 12, 7), today) == "18–24"  # 23, birthday tomorrow
    assert age_band(date(2001, 12, 6), today) == "25–34"  # 25 today
    assert age_band(date(1960, 1, 1), today) == "65+"


CUSTOMERS = [f"C{i:010d}" for i in range(1, 6)]


def segments_end_to_end(client: TestClient) -> None:
    """Run by tests/analytics/test_end_to_end.py (one seeded database per backend), first:
    the other parts' events would add signed-in customers."""
    client.cookies.clear()
    now = int(time.time() * 1000)
    for k, number in enumerate([*CUSTOMERS, CUSTOMERS[0], "C0000099999"]):
        events = [{"id": f"seg-{k:03d}-{i}", "t": now - 100, "type": "pageview",
                   "url": "http://testserver/demo/bank/accounts"} for i in range(2)]  # fmt: skip
        if k == 1:
            events.append({"id": f"seg-{k:03d}-s", "t": now - 50, "type": "form_submit",
                           "url": "http://testserver/demo/bank/transfer", "target": "transfer"})  # fmt: skip
        body = {"sent_at": now, "visitor": f"visitor-seg-{k}", "session": f"session-seg-{k:03d}",
                "customer": number, "events": events}  # fmt: skip
        r = client.post("/collect/demo-bank", content=json.dumps(body),
                        headers={"content-type": "text/plain", "user-agent": CHROME})  # fmt: skip
        assert r.status_code == 202
    analytics = analytics_of(client.app)
    deadline = time.monotonic() + 10
    while (
        analytics.collector.written < analytics.collector.accepted and time.monotonic() < deadline
    ):
        time.sleep(0.05)

    async def profiles() -> list[tuple[str, date]]:
        bank = client.app.state.bank
        return [((p := await bank.get_customer(n)).tier, p.birth_date) for n in CUSTOMERS]

    expected = client.portal.call(profiles)  # type: ignore[attr-defined]
    today = datetime.now(UTC).date()
    login(client, "analyst")
    data = client.get("/api/v1/analytics/customers").json()
    assert (data["signed_in_customers"], data["joined"], data["unknown"]) == (6, 5, 1)
    tiers = Counter(t for t, _ in expected)
    assert {r["value"]: r["customers"] for r in data["tier"]} == dict(tiers)
    bands = Counter(age_band(b, today) for _, b in expected)
    assert {r["value"]: r["customers"] for r in data["age_band"]} == dict(bands)
    first_tier = expected[0][0]  # C1 visited in two sessions
    assert next(r for r in data["tier"] if r["value"] == first_tier)["sessions"] >= 2
    assert sum(r["submitted"] for r in data["tier"]) == 1
    assert data["products"]  # holdings and cards, by kind

    page = client.get("/analytics/customers")
    assert page.status_code == 200 and 'data-testid="segments-tier"' in page.text
    key = hash_key(client.app.state.settings)
    for number in CUSTOMERS:
        assert number not in page.text and customer_hash(key, number) not in page.text
    client.cookies.clear()
    login(client, "agent1")
    assert client.get("/api/v1/analytics/customers").status_code == 403
