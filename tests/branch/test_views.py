"""The branch pages end to end through the app: a manager adds a counter, a teller opens it,
the kiosk and the public map hand out tickets (duplicates, bad numbers refused), the teller
calls, the board shows the call, and a paused counter may not call."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login

pytestmark = pytest.mark.db
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def enqueue(self, db: object, *, to: str, text: str, kind: str, **_: object) -> None:
        self.sent.append((to, text))


def test_a_branch_day_through_the_pages(client: TestClient) -> None:
    login(client, "supervisor")
    token = csrf(client, "/branch/manage")
    added = client.post("/branch/manage/B001/counters",
                        data={"number": "1", "services": "cash,card", "csrf": token},
                        follow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    bad = client.post("/branch/manage/B001/counters",
                      data={"number": "2", "services": "cash,loans", "csrf": token})  # fmt: skip
    assert bad.status_code == 409 and "loans" in bad.text

    client.cookies.clear()
    login(client, "teller")
    page = client.get("/branch/counter?branch=B001")
    counter_id = re.search(r"/branch/counter/(\d+)/open", page.text).group(1)
    token = CSRF.search(page.text).group(1)
    closed = client.post("/branch/kiosk/B001", data={"service": "cash", "csrf": token})
    assert closed.status_code == 409 and "不办理" in closed.text  # no counter open yet
    opened = client.post(f"/branch/counter/{counter_id}/open", data={"csrf": token},
                         follow_redirects=False)  # fmt: skip
    assert opened.status_code == 303
    kiosk = client.post("/branch/kiosk/B001", data={"service": "cash", "priority": "elderly",
                                                    "csrf": token})  # fmt: skip
    assert kiosk.status_code == 200 and "A001" in kiosk.text

    teller = dict(client.cookies)
    client.cookies.clear()  # a customer, signed in as nobody
    anonymous = client
    token_public = csrf(anonymous, "/branch/map")
    form = {"branch": "B001", "service": "cash", "phone": "13800138000", "notify": "true",
            "csrf": token_public}  # fmt: skip
    remote = anonymous.post("/branch/map/ticket", data=form)
    assert remote.status_code == 200 and "A002" in remote.text and "13800138000" not in remote.text
    again = anonymous.post("/branch/map/ticket", data={**form, "branch": "B002"})
    assert again.status_code == 409 and "A002" in again.text  # one open ticket per customer
    wrong = anonymous.post("/branch/map/ticket", data={**form, "phone": "<b>12</b>"})
    assert wrong.status_code == 422 and "<b>12</b>" not in wrong.text
    # One address trying other numbers: five tries in ten minutes (two made above), then 429.
    tries = [anonymous.post("/branch/map/ticket", data={**form, "branch": "B002",
                                                        "phone": f"1390000000{n}"}).status_code
             for n in range(4)]  # fmt: skip
    assert 429 not in tries[:3] and tries[3] == 429
    waits = anonymous.get("/branch/map/waits?service=cash&lat=22.54&lon=114.06").json()
    b001 = next(w for w in waits if w["code"] == "B001")
    assert b001["waiting"] == 2 and b001["band"] in ("green", "yellow", "red")
    assert all(w["band"] == "closed" for w in waits if w["code"] != "B001")
    assert waits == sorted(waits, key=lambda w: w["distance_km"])

    client.cookies.clear()
    client.cookies.update(teller)
    outbox = Outbox()  # the SMS channel's outbox (none is configured in the tests' settings)
    client.app.state.sms = outbox
    called = client.post(f"/branch/counter/{counter_id}/call", data={"csrf": token},
                         follow_redirects=False)  # fmt: skip
    assert called.status_code == 303
    [(to, text)] = outbox.sent  # the remote customer asked: "notify me when 3 ahead"
    assert to == "13800138000" and "A002" in text and "前面还有0人" in text
    page = client.get(f"/branch/counter?branch=B001&counter={counter_id}")
    assert "A001" in page.text.split('data-testid="current"')[1][:300]  # elderly first
    board = client.get("/branch/board/B001")
    assert "请A001号到1号窗口" in board.text
    client.post(f"/branch/counter/{counter_id}/pause", data={"csrf": token})
    refused = client.post(f"/branch/counter/{counter_id}/call", data={"csrf": token})
    assert refused.status_code == 409 and "暂停" in refused.text
