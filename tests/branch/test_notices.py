"""'3 ahead' on the channel the ticket came from: SMS in the transaction, a WeChat template
after the commit, a web chat message in the transaction (woken after); each ticket once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.app import create_app
from kefu.branch import notices, queue
from kefu.branch.models import BranchTicket
from kefu.config import load_settings
from kefu.hall.h5.signing import sign
from tests.branch.conftest import NOW
from tests.branch.test_remote import _db
from tests.branch.test_views import CSRF

SECRET = "test-secret"

pytestmark = pytest.mark.db


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def enqueue(
        self, db: object, *, to: str, text: str, kind: str, idempotency_key: str
    ) -> None:
        self.calls.append(("sms", (to, text, idempotency_key)))

    async def notify_requested(self, account: str, openid: str, **kw: Any) -> bool:
        self.calls.append(("wechat", (account, openid, kw["text"], kw["idempotency_key"])))
        return True

    async def notify(self, db: object, session_id: str, text: str) -> bool:
        self.calls.append(("webchat", (session_id, text)))
        return session_id != "gone"


async def test_each_ticket_is_told_once_on_its_own_channel(session: AsyncSession) -> None:
    db = session
    counter = await queue.add_counter(db, branch_code="SZ001", number=1, services=["cash"])
    await queue.set_counter_state(db, counter_id=counter.id, state="open")
    keys = [None, "phone:13800138000", notices.wechat_key("hall", "oPENID1"),
            notices.webchat_key("s1"), notices.webchat_key("gone")]  # fmt: skip
    tickets = [await queue.take_ticket(db, branch_code="SZ001", service_code="cash",
                                       customer_key=k, notify_ahead=3 if k else None, now=NOW)
               for k in keys]  # fmt: skip
    recorder = Recorder()
    woken: list[str] = []
    state = SimpleNamespace(
        sms=recorder, wechat_runtime=SimpleNamespace(outbound=recorder),
        webchat=SimpleNamespace(notify=recorder.notify,
                                watchers=SimpleNamespace(wake=woken.append)),
    )  # fmt: skip
    await queue.call_next(db, counter_id=counter.id, now=NOW)  # the first: 3 ahead of the last
    due = await queue.due_notices(db, "SZ001")
    assert sorted(t.id for t, _ in due) == sorted(t.id for t in tickets[1:])
    after = await notices.send(state, db, "深圳分行", due)
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds == ["sms", "webchat", "webchat"]  # WeChat waits for the commit
    assert recorder.calls[0][1][0] == "13800138000" and "A002" in recorder.calls[0][1][1]
    assert len(after) == 2  # the WeChat send and the live chat's wake; not the gone chat
    for go in after:
        await go()
    account, openid, text, key = recorder.calls[-1][1]
    assert (account, openid) == ("hall", "oPENID1") and "A003" in text
    assert key == f"branch-ticket:{tickets[2].id}" and woken == ["s1"]
    await queue.call_next(db, counter_id=counter.id, now=NOW)
    assert await queue.due_notices(db, "SZ001") == []  # once each


def test_a_ticket_from_the_wechat_hall_is_keyed_by_the_follower(seeded_url: str) -> None:
    """The H5 queue page (under the hall's cookie path): no session → WeChat sign-in; with
    one, a ticket for the follower (openid key, so "3 ahead" comes by WeChat), once a day."""
    settings = load_settings(
        database_url=seeded_url, secret_key=SECRET, wechat_api_base_url="http://127.0.0.1:9",
        wechat_oauth_base_url="http://127.0.0.1:9",
        wechat_accounts=[{"name": "hall", "app_id": "wxhall0000000001", "app_secret": "hall-secret",
                          "token": "hall-token", "mode": "plain", "display_name": "kefu银行"}],
    )  # fmt: skip

    async def open_counter(db: AsyncSession) -> None:
        counter = await queue.add_counter(db, branch_code="B001", number=1, services=["cash"])
        await queue.set_counter_state(db, counter_id=counter.id, state="open")

    _db(seeded_url, open_counter)
    with TestClient(create_app(settings)) as client:
        assert client.get("/h5/hall/queue", follow_redirects=False).status_code == 302
        client.cookies.set("kefu_h5", sign(SECRET, "h5-session", ["hall", "o-h5"], ttl=600),
                           path="/h5/hall")  # fmt: skip
        page = client.get("/h5/hall/queue?service=cash")
        assert page.status_code == 200 and "北京" in page.text
        form = {"branch": "B001", "service": "cash", "notify": "true",
                "csrf": CSRF.search(page.text).group(1)}  # fmt: skip
        taken = client.post("/h5/hall/queue", data=form)
        assert taken.status_code == 200 and "A001" in taken.text, taken.text
        again = client.post("/h5/hall/queue", data=form)
        assert again.status_code == 409 and "A001" in again.text  # one open ticket each
        forged = client.post("/h5/hall/queue", data={**form, "csrf": "x"})
        assert forged.status_code == 401
    key = _db(seeded_url, lambda db: db.scalar(select(BranchTicket.customer_key)))
    assert key == notices.wechat_key("hall", "o-h5")
