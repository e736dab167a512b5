"""The anomaly pages through the real app: the planted incident is listed, its page names the
planted cause first with a link to its sessions, and only report readers get in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kefu.analytics.anomalies import plant_conversion_drop
from kefu.analytics.generate import generate
from kefu.analytics.service import analytics_of
from kefu.config import load_settings
from tests.conftest import login

pytestmark = pytest.mark.db


@pytest.fixture
def client(seeded_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from kefu.app import create_app

    settings = load_settings(
        database_url=seeded_url, secret_key="test-secret",
        analytics={"store_path": str(tmp_path / "events.duckdb"), "flush_seconds": 0.05},
    )  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_anomaly_pages(client: TestClient) -> None:
    today = datetime.now(UTC).date()
    store = analytics_of(client.app).store
    generate(store, 21, 2000, today=today, seed=3)
    plant_conversion_drop(
        store, today, campaign="spring-card", browser="Chrome", version="123", sessions=200
    )
    assert login(client, "agent1").status_code == 303
    assert client.get("/analytics/anomalies").status_code == 403
    client.cookies.clear()
    assert login(client, "analyst").status_code == 303
    listed = client.get("/api/v1/analytics/anomalies?days=7").json()["anomalies"]
    assert {"metric": "task_completion", "day": today.isoformat()}.items() <= next(
        a for a in listed if a["metric"] == "task_completion"
    ).items()
    page = client.get("/analytics/anomalies?days=7")
    assert page.status_code == 200
    assert f"/analytics/anomalies/task_completion/{today}" in page.text
    detail = client.get(f"/api/v1/analytics/anomalies/task_completion/{today}").json()
    top = detail["causes"][0]
    assert top["element"] == "browser=Chrome 123&campaign=spring-card"
    assert top["replays"]["browser"] == "Chrome 123"
    html = client.get(f"/analytics/anomalies/task_completion/{today}").text
    assert 'data-testid="chart-series"' in html and "spring-card" in html
    assert "/analytics/replays?" in html
    assert client.get(f"/analytics/anomalies/bounce/{today}").status_code == 404
