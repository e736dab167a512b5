"""End to end through the real app: events posted to the collector reach the store and the
analyst's pages; the pages and the cost form keep to their permissions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kefu.analytics.enrich import customer_hash
from kefu.analytics.generate import generate
from kefu.analytics.service import analytics_of, hash_key
from kefu.config import load_settings
from tests.analytics.conftest import CHROME
from tests.analytics.test_regions import write_fixture
from tests.analytics.test_tabs import tabs_by_role
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


@pytest.fixture
def client(seeded_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from kefu.app import create_app

    settings = load_settings(
        database_url=seeded_url, secret_key="test-secret",
        analytics={"store_path": str(tmp_path / "events.duckdb"), "flush_seconds": 0.05,
                   "region_file": str(write_fixture(tmp_path / "regions.tsv.gz"))},
    )  # fmt: skip
    # the visitor's address, as the server sees it: becomes a region, then is dropped
    with TestClient(create_app(settings), client=("114.114.114.114", 50000)) as test_client:
        yield test_client


def _body(n: int, **extra: object) -> str:
    now = int(time.time() * 1000)
    events = [{"id": f"ev-{n:04d}-{i:03d}", "t": now - 100, "type": "pageview",
               "url": f"http://testserver/demo/bank/accounts?card=6214830000001126488&i={i}"}
              for i in range(3)]  # fmt: skip
    return json.dumps({"sent_at": now, "visitor": "visitor-e2e", "session": f"session-{n:04d}",
                       "customer": "6200000001", "events": events, **extra})  # fmt: skip


def test_collector_pages_and_permissions(client: TestClient) -> None:
    """One test (one seeded database per backend: the suite's time is scarce)."""
    _events_posted_reach_the_store_and_the_pages(client)
    client.cookies.clear()
    _pages_show_the_planted_facts_and_costs_are_entered_by_permission(client)
    tabs_by_role(client)


def _events_posted_reach_the_store_and_the_pages(client: TestClient) -> None:
    headers = {"content-type": "text/plain;charset=UTF-8", "user-agent": CHROME}
    r = client.post("/collect/demo-bank", content=_body(1), headers=headers)
    assert r.status_code == 202 and r.json() == {"accepted": 3, "refused": {}}
    assert client.post("/collect/demo-bank", content=_body(1), headers=headers).status_code == 409
    assert client.post("/collect/elsewhere", content=_body(2), headers=headers).status_code == 404
    too_big = _body(3, ua="x" * 2_000_000)  # over the app's body limit: refused before parsing
    assert client.post("/collect/demo-bank", content=too_big, headers=headers).status_code == 413
    analytics = analytics_of(client.app)
    deadline = time.monotonic() + 5
    while analytics.store.count() < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    rows = analytics.store.query("SELECT query, customer_hash FROM events")
    assert len(rows) == 3
    assert analytics.store.query("SELECT DISTINCT region FROM events") == [("CN/Shandong/Jinan",)]
    assert all("6214830000001126488" not in q and "6214********6488" in q for q, _ in rows)
    key = hash_key(client.app.state.settings)
    assert {h for _, h in rows} == {customer_hash(key, "6200000001")}

    assert login(client, "analyst").status_code == 303
    overview = client.get("/api/v1/analytics/overview").json()
    assert overview["collector"]["accepted"] == 3
    assert overview["collector"]["refused"] == {"replayed": 3, "unknown_site": 1}
    assert overview["top_pages"] == [["/demo/bank/accounts", 3, 1]]
    assert overview["regions"] == [["CN/Shandong", 1]]
    page = client.get("/analytics", headers={"accept-language": "zh-CN"}).text
    # the region named in words (in the chart's JSON), and DB-IP's credit its licence asks for
    assert json.dumps("山东")[1:-1] in page and "https://db-ip.com" in page


def _pages_show_the_planted_facts_and_costs_are_entered_by_permission(client: TestClient) -> None:
    store = analytics_of(client.app).store
    generate(store, 30, 1200, hash_key=b"k", seed=4)
    assert login(client, "analyst").status_code == 303
    page = client.get("/analytics", headers={"accept-language": "zh-CN"})
    assert page.status_code == 200
    assert 'data-testid="failure-alert"' in page.text and "/demo/bank/cards/apply" in page.text
    for path in ("/analytics/funnel", "/analytics/campaigns", "/analytics/paths",
                 "/analytics/forms?form=transfer", "/analytics/failures",
                 "/analytics/selfservice"):  # fmt: skip
        shown = client.get(path)
        assert shown.status_code == 200, path
        assert "data-chart" in shown.text or "failing-browser" in shown.text, path
    assert "sms_code" in client.get("/analytics/forms?form=transfer").text
    bad = client.get("/api/v1/analytics/funnel", params={"steps": "/only-one"})
    assert bad.status_code == 422

    token = CSRF.search(client.get("/analytics/campaigns").text).group(1)
    saved = client.post("/analytics/campaigns/cost", follow_redirects=False,
                        data={"campaign": "wealth-banner", "cost": "100", "value_per_conversion":
                              "1000", "csrf": token})  # fmt: skip
    assert saved.status_code == 303
    rows = {r["campaign"]: r for r in client.get("/api/v1/analytics/campaigns").json()}
    assert rows["wealth-banner"]["cost"] == 100 and rows["wealth-banner"]["roi"] > 0

    client.cookies.clear()
    assert login(client, "agent1").status_code == 303
    assert client.get("/analytics").status_code == 403
    assert client.get("/api/v1/analytics/overview").status_code == 403
