"""Paperless forms through the app: a customer fills a form on the public page (bad fields
refused, values kept), which takes a ticket; a teller retrieves it by ID number + ticket (a wrong
ID shows the tries left), sees personal values masked, is refused without a signature, signs
and files it with the synthetic bank; every access is in the audit log."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.branch.models import BranchForm
from kefu.db.engine import make_engine, make_sessionmaker
from tests.branch.test_forms import ID, OTHER_ID, PNG
from tests.conftest import login

pytestmark = pytest.mark.db
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


def _db(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db:
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_fill_retrieve_sign_and_file(client: TestClient, app_settings) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    token = csrf(client, "/branch/manage")
    client.post("/branch/manage/B001/counters",
                data={"number": "1", "services": "account,card", "csrf": token})  # fmt: skip
    client.cookies.clear()
    login(client, "teller")
    page = client.get("/branch/counter?branch=B001")
    counter_id = re.search(r"/branch/counter/(\d+)/open", page.text).group(1)
    client.post(
        f"/branch/counter/{counter_id}/open", data={"csrf": CSRF.search(page.text).group(1)}
    )
    teller = dict(client.cookies)

    client.cookies.clear()  # the customer, on a phone
    assert "个人开户申请" in client.get("/branch/forms").text
    token = csrf(client, "/branch/forms/account_opening")
    form = {"csrf": token, "branch": "B001", "name": "<b>张三</b>", "id_number": ID,
            "mobile": "1380013800", "account_type": "savings", "address": "深圳市福田区1号"}  # fmt: skip
    bad = client.post("/branch/forms/account_opening", data=form)
    assert bad.status_code == 422 and "请填写11位中国大陆手机号码" in bad.text
    assert "&lt;b&gt;张三&lt;/b&gt;" in bad.text and "<b>张三</b>" not in bad.text  # kept, escaped
    form |= {"mobile": "13800138000", "name": "张三"}
    saved = client.post("/branch/forms/account_opening", data=form)
    assert saved.status_code == 200 and "C001" in saved.text, saved.text
    reference = _db(app_settings.database_url,
                    lambda db: db.scalar(select(BranchForm.reference)))  # fmt: skip
    assert reference in saved.text
    assert client.get("/branch/forms-desk", follow_redirects=False).status_code in (303, 401)

    client.cookies.clear()
    client.cookies.update(teller)
    token = csrf(client, "/branch/forms-desk?branch=B001")
    wrong = client.post("/branch/forms-desk/retrieve",
                        data={"csrf": token, "branch": "B001", "ticket": "C001", "id_number": OTHER_ID})  # fmt: skip
    assert wrong.status_code == 409 and "还可尝试4次" in wrong.text
    found = client.post("/branch/forms-desk/retrieve",
                        data={"csrf": token, "branch": "B001", "ticket": "c001", "id_number": ID},
                        follow_redirects=False)  # fmt: skip
    assert (
        found.status_code == 303 and found.headers["location"] == f"/branch/forms-desk/{reference}"
    )
    desk = client.get(found.headers["location"])
    assert desk.status_code == 200 and "440305********" in desk.text and ID not in desk.text
    assert "138****8000" in desk.text and "张*" in desk.text
    url = f"/branch/forms-desk/{reference}/complete"
    unsigned = client.post(url, data={"csrf": token, "signature": ""})
    assert unsigned.status_code == 409 and "签名" in unsigned.text
    signed = client.post(
        url, data={"csrf": token, "signature": PNG, "fix_address": "深圳市南山区2号"}
    )
    assert signed.status_code == 200 and re.search(r"FM\d{8}[0-9A-F]{8}", signed.text), signed.text
    again = client.post(url, data={"csrf": token, "signature": PNG})
    assert again.status_code == 409  # a completed form is not filed twice

    async def audit(db):  # type: ignore[no-untyped-def]
        return list((await db.execute(select(AuditEntry.action, AuditEntry.details)
                                      .where(AuditEntry.action.like("branch.form.%"))
                                      .order_by(AuditEntry.id))).all())  # fmt: skip

    entries = _db(app_settings.database_url, audit)
    actions = [a for a, _ in entries]
    assert actions == ["branch.form.fill", "branch.form.retrieve_refused", "branch.form.retrieve",
                       "branch.form.view", "branch.form.complete_refused", "branch.form.complete",
                       "branch.form.complete_refused"]  # fmt: skip
    assert entries[1][1] == {"reason": "mismatch", "tries_left": 4}
    assert entries[5][1]["corrected"] == ["address"]
    assert ID not in str(entries) and "深圳市南山区2号" not in str(entries)

    # Appointments (same app, to share the seeded database): book tomorrow 10:00, the slot's
    # capacity is 2, one phone books once; the kiosk refuses a phone with no booking today.
    from datetime import timedelta

    from kefu.branch.queue import LOCAL_ZONE
    from kefu.db.base import utcnow

    client.cookies.clear()
    tomorrow = (utcnow().astimezone(LOCAL_ZONE).date() + timedelta(days=1)).isoformat()
    page = f"/branch/appointments?branch=B001&service=wealth&day={tomorrow}"
    token = csrf(client, page)
    assert "10:00 · 还剩2个名额" in client.get(page).text
    slot = {"csrf": token, "branch": "B001", "service": "wealth", "day": tomorrow,
            "start": "10:00"}  # fmt: skip
    first = client.post("/branch/appointments", data={**slot, "phone": "13800000001"})
    assert first.status_code == 200 and "预约码" in first.text, first.text
    twice = client.post(
        "/branch/appointments", data={**slot, "phone": "13800000001", "start": "11:00"}
    )
    assert twice.status_code == 409 and "请勿重复预约" in twice.text
    client.post("/branch/appointments", data={**slot, "phone": "13800000002"})
    full = client.post("/branch/appointments", data={**slot, "phone": "13800000003"})
    assert full.status_code == 409 and "预约已满" in full.text
    bad = client.post("/branch/appointments", data={**slot, "phone": "<script>"})
    assert bad.status_code == 422 and "<script>" not in bad.text
    client.cookies.clear()
    client.cookies.update(teller)
    token = csrf(client, "/branch/kiosk/B001")
    nobody = client.post("/branch/kiosk/B001/checkin", data={"csrf": token, "phone": "13900000000"})
    assert nobody.status_code == 409 and "没有预约" in nobody.text
