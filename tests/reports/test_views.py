"""The reports' pages and APIs end to end on a real app and database: dashboards over the
demo's month of history, the builder (validation, row cap, drill-down, exports), saving and
sharing by role, the agent KPI sheet, and who may open what."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.reports.demo import ensure_reports_demo
from tests.conftest import login

pytestmark = pytest.mark.db

ZONE = ZoneInfo("Asia/Shanghai")


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def _sms_rows(url: str) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        db.add_all(
            SmsMessage(direction="out", link="cmpp-a", phone="13800000001", service_number="95555",
                       text="x", kind="notification", state=state, parts=2)
            for state in ("delivered", "delivered", "failed")
        )  # fmt: skip
        await db.commit()
    await engine.dispose()


def test_dashboards_builder_exports_and_roles(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    assert "hours rolled up" in asyncio.run(ensure_reports_demo(seeded_url, per_day=5))
    today = datetime.now(ZONE).date()
    month_ago = (today - timedelta(days=29)).isoformat()

    asyncio.run(_sms_rows(seeded_url))
    assert login(client, "supervisor").status_code == 303
    # Channel pages: two of three messages delivered on link cmpp-a, six parts at 0.05 yuan.
    links = client.get("/reports/channels?days=7")
    assert links.status_code == 200 and "66.7%" in links.text and "¥0.30" in links.text
    assert client.get("/reports/channels?days=93").status_code == 422
    page = client.get("/reports")
    assert page.status_code == 200 and 'id="chart-by-day"' in page.text
    # The month's 绩效 sheet is one click away, this month filled in.
    assert 'formaction="/reports/agents/sheet.pdf"' in page.text
    assert f'name="month" value="{today.isoformat()[:7]}"' in page.text
    overview = client.get("/api/v1/reports/overview").json()
    assert sum(sum(day.values()) for day in overview["by_day"].values()) >= 29 * 5
    assert overview["tiles"]["aht"]["then"] is not None  # a week ago had handled conversations
    assert client.get("/reports/live").status_code == 200
    live = client.get("/api/v1/reports/live").json()
    assert any(a["name"] == "李晓雨" for a in live["agents"])

    # The builder: a table, an unknown field named in a 422, a period too long refused.
    built = client.get(f"/reports/builder?measure=conversations&measure=aht&dimension=channel"
                       f"&start={month_ago}&end={today}")  # fmt: skip
    assert built.status_code == 200 and 'data-testid="builder-table"' in built.text
    assert "/reports/drill?" in built.text
    # As the form sends it: unused "group by" selects are empty, not unknown dimensions.
    form = client.get(f"/reports/builder?measure=conversations&dimension=day&dimension="
                      f"&dimension=&start={month_ago}&end={today}&chart=bar")  # fmt: skip
    assert form.status_code == 200 and 'data-testid="chart-builder"' in form.text
    bad = client.get("/reports/builder?measure=nope&dimension=channel")
    assert bad.status_code == 422 and "unknown measure nope" in bad.text
    api = client.post("/api/v1/reports/query", json={"measures": ["sla"], "dimensions": ["colour"],
                                                      "start": month_ago, "end": str(today)})  # fmt: skip
    assert api.status_code == 422 and "unknown dimension colour" in api.text
    year = client.post("/api/v1/reports/query", json={
        "measures": ["conversations"], "dimensions": ["month"],
        "start": str(today - timedelta(days=364)), "end": str(today)})  # fmt: skip
    assert year.status_code == 200
    assert sum(r["conversations"] for r in year.json()["rows"]) >= 29 * 5
    too_long = client.post("/api/v1/reports/query", json={
        "measures": ["conversations"], "start": "2024-01-01", "end": str(today)})  # fmt: skip
    assert too_long.status_code == 422 and "at most 400 days" in too_long.text

    # The row cap: more groups than allowed answer the first ones and say so.
    client.app.state.settings.reports.row_cap = 10
    capped = client.post("/api/v1/reports/query", json={
        "measures": ["conversations"], "dimensions": ["day", "channel"],
        "start": month_ago, "end": str(today)})  # fmt: skip
    assert len(capped.json()["rows"]) == 10 and capped.json()["truncated"]
    assert "10" in capped.json()["message"]
    client.app.state.settings.reports.row_cap = 5000

    csv_text = client.get(f"/reports/builder/export.csv?measure=conversations&dimension=day"
                          f"&start={month_ago}&end={today}").text  # fmt: skip
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0] == "日期,会话" and len(lines) >= 30
    xlsx = client.get(f"/reports/builder/export.xlsx?measure=conversations&dimension=queue"
                      f"&start={month_ago}&end={today}")  # fmt: skip
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} >= {"credit_card"}
    built_pdf = client.get(f"/reports/builder/export.pdf?measure=conversations&dimension=queue"
                           f"&start={month_ago}&end={today}")  # fmt: skip
    assert built_pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(built_pdf.content)
    assert "队列" in text and "credit_card" in text and f"{month_ago} – {today}" in text

    drill = client.get(f"/reports/drill?start={month_ago}&end={today}")
    assert drill.status_code == 200 and "/workspace/conversations/" in drill.text
    assert 'data-testid="drill-next"' in drill.text  # 50 a page of about 150
    sms = client.get(f"/reports/drill?start={month_ago}&end={today}&channel=sms&page=1").text
    assert "/workspace/conversations/" in sms and ">微博<" not in sms

    # Saved and shared by role: the analyst sees what was shared with analysts only.
    spec = {"measures": ["sla"], "dimensions": ["queue"], "start": month_ago, "end": str(today)}
    shared = client.post("/api/v1/reports/saved", json={"name": "队列SLA", "spec": spec,
                                                         "shared_roles": ["analyst"]})  # fmt: skip
    assert shared.status_code == 201
    private = client.post("/api/v1/reports/saved", json={"name": "我的", "spec": spec})
    mailed = client.post(f"/api/v1/reports/saved/{private.json()['id']}/schedules",
                         json={"frequency": "monthly", "format": "pdf"})  # fmt: skip
    assert mailed.status_code == 201 and mailed.json()["format"] == "pdf"
    assert client.post(f"/api/v1/reports/saved/{private.json()['id']}/schedules",
                       json={"frequency": "monthly", "format": "doc"}).status_code == 422  # fmt: skip
    assert client.post("/api/v1/reports/saved", json={"name": "x", "spec": spec,
                                                      "shared_roles": ["nobody"]}).status_code == 422  # fmt: skip
    sheet_x = client.get(f"/reports/agents/sheet.xlsx?month={today:%Y-%m}")
    names = [
        r[0] for r in load_workbook(io.BytesIO(sheet_x.content)).active.iter_rows(values_only=True)
    ]
    assert names[0] == "坐席" and "李晓雨" in names
    sheet_pdf = client.get(f"/reports/agents/sheet.pdf?month={today:%Y-%m}")
    assert sheet_pdf.status_code == 200
    assert "李晓雨" in _pdf_text(sheet_pdf.content) and f"{today:%Y-%m}" in _pdf_text(
        sheet_pdf.content
    )

    client.cookies.clear()
    assert login(client, "analyst").status_code == 303
    seen = {r["name"] for r in client.get("/api/v1/reports/saved").json()}
    assert seen == {"队列SLA"}
    assert client.get(f"/reports/builder?saved={private.json()['id']}").status_code == 404
    assert client.get(f"/reports/builder?saved={shared.json()['id']}").status_code == 200
    assert client.get("/reports/me").status_code == 403  # analysts handle no conversations
    assert client.get("/reports/live").status_code == 403

    client.cookies.clear()
    assert login(client, "agent1").status_code == 303
    mine = client.get("/api/v1/reports/me").json()
    assert mine["month"]["handled"] > 0  # the demo's history gave agent1 conversations
    assert client.get("/reports/me").status_code == 200
    assert client.get("/reports/builder").status_code == 403
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/channels").status_code == 403
