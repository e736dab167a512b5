"""The clustering page and the customer view of behaviour through the real app and database:
a run over planted traffic finishes in the background with labelled clusters joined to the
bank's data; export (CSV, Excel) and save-as-segment need SEGMENTS_EXPORT and are audited;
an agent's customer panel shows the planted struggler's failed transfers, masked."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from kefu.analytics.clusters.planted import plant_segments
from kefu.analytics.service import analytics_of, hash_key
from kefu.config import load_settings
from tests.conftest import login

pytestmark = pytest.mark.db
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def client(seeded_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from kefu.app import create_app

    settings = load_settings(
        database_url=seeded_url, secret_key="test-secret",
        analytics={"store_path": str(tmp_path / "events.duckdb"), "flush_seconds": 0.05},
    )  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _audit(url: str, action: str) -> list:  # type: ignore[type-arg]
    from kefu.audit.models import AuditEntry
    from kefu.db.engine import make_engine, make_sessionmaker

    async def go() -> list:  # type: ignore[type-arg]
        engine = make_engine(url)  # its own engine: the app's is on its loop
        try:
            async with make_sessionmaker(engine)() as db:
                return list(await db.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_clusters_and_customer_view_over_http(client: TestClient, seeded_url: str) -> None:
    """One test: one seeded database and app per backend (the suite's time is scarce)."""
    today = datetime.now(UTC).date()
    # the seeded bank has 20 customers: 5 per planted group, C0000000001… (1-5 struggle)
    truth = plant_segments(analytics_of(client.app).store, 5, 14, today=today, first=1,
                           noise=0.0, hash_key=hash_key(client.app.state.settings))  # fmt: skip
    assert len(truth) == 20
    _clustering(client, seeded_url)
    client.cookies.clear()
    _customer_view(client, seeded_url)


def _clustering(client: TestClient, url: str) -> None:
    assert login(client, "agent1").status_code == 303
    assert client.get("/analytics/clusters").status_code == 403
    client.cookies.clear()
    assert login(client, "analyst").status_code == 303
    page = client.get("/analytics/clusters")
    assert page.status_code == 200
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    bad = client.post("/analytics/clusters", data={"site": "nowhere", "days": 14, "csrf": csrf})
    assert bad.status_code == 422 and "site" in bad.text
    started = client.post("/analytics/clusters", data={"site": "demo-bank", "days": 14,
                                                       "csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert started.status_code == 303
    run_id = int(started.headers["location"].rsplit("=", 1)[1])
    deadline = time.monotonic() + 60
    while (run := client.get(f"/api/v1/analytics/clusters/runs/{run_id}").json())[
        "state"
    ] == "running":
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    assert run["state"] == "done", run
    assert run["customers"] == 20 and run["k"] >= 2
    assert sum(c["size"] for c in run["clusters"]) == 20
    strugglers = max(run["clusters"], key=lambda c: c["profile"]["遇到错误"])
    assert "↑" in strugglers["label"] and strugglers["exportable"] == strugglers["size"]
    assert strugglers["bank"]["profiled"] == strugglers["size"]  # joined through the bank port
    assert len(strugglers["trend"]) == 14
    html = client.get(f"/analytics/clusters?run={run_id}").text
    assert 'data-testid="chart-cluster-trend-0"' in html and strugglers["label"] in html
    index = strugglers["index"]
    # export: CSV and Excel, the numbers themselves, audited
    got = client.get(f"/analytics/clusters/runs/{run_id}/{index}/export.csv")
    assert got.status_code == 200
    numbers = [
        r["customer_no"] for r in csv.DictReader(io.StringIO(got.content.decode("utf-8-sig")))
    ]
    assert numbers and set(numbers) <= {f"C{i:010d}" for i in range(1, 6)}
    book = load_workbook(
        io.BytesIO(client.get(f"/analytics/clusters/runs/{run_id}/{index}/export.xlsx").content)
    )
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == numbers
    assert client.get(f"/analytics/clusters/runs/{run_id}/{index}/export.pdf").status_code == 404
    assert (
        client.get(f"/analytics/clusters/runs/{run_id}/{index + 50}/export.csv").status_code == 422
    )
    assert {e.details["format"] for e in _audit(url, "analytics.cluster.export")} == {"csv", "xlsx"}
    # save as a segment: campaigns then read it through list_segments / members
    saved = client.post(f"/analytics/clusters/runs/{run_id}/{index}/segment",
                        data={"name": "转账受阻客户", "csrf": csrf}, follow_redirects=True)  # fmt: skip
    assert "转账受阻客户" in saved.text
    seg = next(
        s for s in client.get("/api/v1/analytics/segments").json() if s["name"] == "转账受阻客户"
    )
    assert seg["size"] == len(numbers)
    members = client.get(f"/api/v1/analytics/segments/{seg['id']}/members").json()["customers"]
    assert members == numbers
    again = client.post(f"/analytics/clusters/runs/{run_id}/{index}/segment",
                        data={"name": "转账受阻客户", "csrf": csrf}, follow_redirects=True)  # fmt: skip
    assert "exists" in again.text  # a taken name is refused, not overwritten
    # a supervisor without... every role that reads reports may export today; an agent may not
    client.cookies.clear()
    assert login(client, "agent1").status_code == 303
    assert client.get(f"/analytics/clusters/runs/{run_id}/{index}/export.csv").status_code == 403


async def _conversation_of(url: str, customer_no: str) -> int:
    """A new, unassigned conversation of the customer (an agent may read it)."""
    from kefu.conversations.models import Conversation
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.identity.models import Customer

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            customer = await session.scalar(
                select(Customer).where(Customer.bank_customer_no == customer_no)
            )
            if customer is None:
                customer = Customer(bank_customer_no=customer_no, tier="standard", region="")
                session.add(customer)
                await session.flush()
            conversation = Conversation(channel="sms", customer_id=customer.id, contact="x")
            session.add(conversation)
            await session.flush()
            return conversation.id
    finally:
        await engine.dispose()


def _customer_view(client: TestClient, url: str) -> None:
    """C0000000001 is a planted transfer struggler on Android 12; one of its errors carries a
    phone number and markup (hostile text from a browser)."""
    from kefu.analytics.enrich import customer_hash
    from kefu.analytics.generate import _Session
    from kefu.analytics.store.base import COLUMNS

    app = client.app
    store = analytics_of(app).store
    out: dict[str, list] = {name: [] for name in COLUMNS}  # type: ignore[type-arg]
    hashed = customer_hash(hash_key(app.state.settings), "C0000000001")
    s = _Session(out, "hostile-1", "v-hostile", datetime.now(UTC).replace(tzinfo=None),
                 ("Chrome Mobile", "120", "Android", "12", "mobile"), hashed, __import__("random").Random(1))  # fmt: skip
    s.view("/demo/bank/transfer")
    s.emit("error", target="<script>alert(1)</script> 请回电 13812345678")
    store.insert(out)
    cid = asyncio.run(_conversation_of(url, "C0000000001"))
    assert login(client, "agent1").status_code == 303
    page = client.get(f"/workspace/conversations/{cid}")
    assert f"/workspace/conversations/{cid}/behaviour" in page.text
    panel = client.get(f"/workspace/conversations/{cid}/behaviour")
    assert panel.status_code == 200
    text = panel.text
    assert re.search(r"转账未完成 [2-9] 次，卡在第 3 步（短信验证码） · Android 12", text), text
    assert "/demo/bank/api/transfer/sms-code" in text and "(502)" in text
    assert "13812345678" not in text and "138****5678" in text  # masked
    assert "<script>alert" not in text and "&lt;script&gt;" in text  # escaped
    assert "C0000000001" not in text
    assert client.get("/analytics/customer-behaviour?customer_no=C0000000001").status_code == 403
    client.cookies.clear()
    assert login(client, "teller").status_code == 303  # customers at the counter, not chats
    assert client.get(f"/workspace/conversations/{cid}/behaviour").status_code == 403
    client.cookies.clear()
    assert login(client, "analyst").status_code == 303
    seen = client.get("/api/v1/analytics/customer-behaviour?customer_no=C0000000001").json()
    assert seen["failed"][0]["form"] == "transfer" and seen["failed"][0]["step"] == 3
    html = client.get("/analytics/customer-behaviour?customer_no=C0000000001").text
    assert "卡在第 3 步" in html
    assert client.get("/api/v1/analytics/customer-behaviour?customer_no=C1;drop").status_code == 422
    assert len(_audit(url, "analytics.customer.view")) == 2
