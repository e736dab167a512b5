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


def test_anomalies_and_segments_over_http(client: TestClient, seeded_url: str) -> None:
    """One test: one seeded database and app per backend (the suite's time is scarce)."""
    _anomaly_pages(client)
    client.cookies.clear()
    _segment_export_is_permission_checked_and_audited(client, seeded_url)


def _anomaly_pages(client: TestClient) -> None:
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


def _segment_export_is_permission_checked_and_audited(client: TestClient, seeded_url: str) -> None:
    import asyncio

    from sqlalchemy import select

    from kefu.analytics.segments import save_segment
    from kefu.audit.models import AuditEntry
    from kefu.db.engine import make_engine, make_sessionmaker

    def session():  # type: ignore[no-untyped-def]  # its own engine: the app's is on its loop
        engine = make_engine(seeded_url)
        return engine, make_sessionmaker(engine)()

    async def seed() -> int:
        engine, db = session()
        async with db:
            seg = await save_segment(db, name="转账失败", customer_nos=["C0000000002",
                                     "C0000000001"], actor="analyst")  # fmt: skip
            await db.commit()
        await engine.dispose()
        return seg.id

    seg_id = asyncio.run(seed())
    assert login(client, "agent1").status_code == 303
    assert client.get(f"/analytics/segments/{seg_id}/export.csv").status_code == 403
    assert client.get("/api/v1/analytics/segments").status_code == 403
    client.cookies.clear()
    assert login(client, "analyst").status_code == 303
    assert [s["name"] for s in client.get("/api/v1/analytics/segments").json()] == ["转账失败"]
    r = client.get(f"/analytics/segments/{seg_id}/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.decode("utf-8-sig").split() == ["customer_no", "C0000000001", "C0000000002"]
    assert client.get("/analytics/segments/999/export.csv").status_code == 404
    members = client.get(f"/api/v1/analytics/segments/{seg_id}/members").json()
    assert members == {"segment": seg_id, "masked": False,
                       "customers": ["C0000000001", "C0000000002"]}  # fmt: skip

    async def audited() -> list[str]:
        engine, db = session()
        async with db:
            found = list(await db.scalars(select(AuditEntry.action)))
        await engine.dispose()
        return found

    actions = asyncio.run(audited())
    assert "analytics.segment.export" in actions and "analytics.segment.read" in actions
