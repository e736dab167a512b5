"""The crisis desk through HTTP: the board and alerts, acknowledgement, batch replies (one per
conversation, a double click sends nothing twice), the approval rule for public statements
(never one's own), escalation records with their outcome, escaping and masking."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kefu.auth.service import create_user
from kefu.conversations.models import Message
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.social.crisis import service
from kefu.social.crisis.models import CrisisStatement
from kefu.social.crisis.notify import Notifier
from kefu.social.crisis.settings import CrisisSettings
from kefu.social.detector import BurstAlert
from kefu.social.models import SocialPost
from tests.conftest import CSRF, login
from tests.social.crisis.stream import conversation

pytestmark = pytest.mark.db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> 卡号6222021234567890123 电话13912345678'


def run(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


def plant(
    url: str, *, term: str = "盗刷", conversations: int = 3, text: str = "信用卡被盗刷了"
) -> dict:
    """Posts about ``term`` from ``conversations`` authors (two posts from each of the first
    two: one conversation each), a listening post with no conversation, and an alert."""

    async def work(db):  # type: ignore[no-untyped-def]
        now = utcnow()
        ids, post_ids = [], []
        for i in range(conversations):
            c = await conversation(db, f"weibo_u{i}")
            ids.append(c.id)
            for j in range(2 if i < 2 else 1):
                post = SocialPost(
                    platform="weibo", account="bank", external_id=f"{term}-{i}-{j}", kind="mention",
                    author_uid=f"u{i}", author_name=f"王小{i}", author_followers=100 * i, text=text,
                    posted_at=now - timedelta(minutes=5 - j), received_at=now - timedelta(minutes=5 - j),
                    sentiment=-0.9, sentiment_label="negative", emotion="anger", keywords=["信用卡", term],
                    topic="信用卡盗刷", influence=40.0, state="queued", conversation_id=c.id,
                )  # fmt: skip
                db.add(post)
                await db.flush()
                post_ids.append(post.id)
        db.add(SocialPost(platform="weibo", account="", external_id=f"{term}-listen", kind="listening",
                          author_uid="lx", author_name="路人", text=text, posted_at=now, received_at=now,
                          sentiment_label="negative", keywords=[term], topic="信用卡盗刷", state="listening"))  # fmt: skip
        burst = BurstAlert(term=term, started_at=now - timedelta(minutes=6), raised_at=now - timedelta(minutes=4),
                           volume=len(post_ids), negativity=1.0, reach=200.0, level=2)  # fmt: skip
        alert, _ = await service.store_alert(
            db, burst, post_ids=post_ids, gap=timedelta(minutes=15), now=now
        )
        duty = CrisisSettings(on_duty=[{"name": "值班主管", "mobile": "13800000001"}])
        await Notifier(duty).queue(db, alert, 0)  # no SMS link here: recorded as not sent
        return {"conversations": ids, "posts": post_ids, "alert": alert.id}

    return run(url, work)


def replies(url: str, conversation_ids: list[int], mode: str | None = None) -> dict[int, int]:
    """Agent replies per conversation (of ``mode``, the Weibo reply mode, when given)."""

    async def work(db):  # type: ignore[no-untyped-def]
        statement = select(Message.conversation_id, func.count()).where(
            Message.conversation_id.in_(conversation_ids), Message.direction == "out"
        )
        if mode is not None:
            statement = statement.where(Message.reply_mode == mode)
        return dict((await db.execute(statement.group_by(Message.conversation_id))).all())

    return run(url, work)


def as_user(client: TestClient, username: str) -> str:
    client.cookies.clear()
    assert login(client, username).status_code == 303
    return CSRF.search(client.get("/social/crisis").text).group(1)


def topic_form(client: TestClient, label: str, alert: int | None = None) -> dict[str, str]:
    page = client.get(
        "/social/crisis/topic", params={"label": label, **({"alert": alert} if alert else {})}
    )
    assert page.status_code == 200
    return {"csrf": CSRF.search(page.text).group(1),
            "key": re.search(r'name="request_key" value="([^"]+)-dm"', page.text).group(1),
            "text": page.text}  # fmt: skip


def test_the_desk_shows_the_alert_and_board_and_a_supervisor_acknowledges(
    client: TestClient, seeded_url: str
) -> None:
    planted = plant(seeded_url)
    csrf = as_user(client, "supervisor")
    page = client.get("/social/crisis")
    assert page.status_code == 200
    assert f'data-testid="alert-{planted["alert"]}"' in page.text and "盗刷" in page.text
    assert (
        "信用卡盗刷" in page.text and "<polyline points=" in page.text
    )  # the board and a sparkline
    assert "值班主管 · 短信 · 未发送 (未配置短信通道)" in page.text  # who was told, and how
    assert 'data-testid="crisis-badge"' in client.get("/social/crisis/badge").text
    answer = client.post(f"/social/crisis/alerts/{planted['alert']}/acknowledge", data={"csrf": csrf},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    alert = next(
        a for a in client.get("/api/v1/crisis/alerts").json() if a["id"] == planted["alert"]
    )
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "supervisor"
    assert alert["acknowledged_at"] is not None
    assert "crisis-badge" not in client.get("/social/crisis/badge").text
    # Without the form's token nothing happens.
    assert (
        client.post(f"/social/crisis/alerts/{planted['alert']}/escalate", data={}).status_code
        == 400
    )


def test_a_private_batch_reply_answers_each_conversation_once_even_on_a_double_click(
    client: TestClient, seeded_url: str
) -> None:
    planted = plant(seeded_url)
    as_user(client, "supervisor")
    form = topic_form(client, "盗刷", planted["alert"])
    data = {"csrf": form["csrf"], "label": "盗刷", "mode": "dm", "body": "您好，我是{agent}，已为您登记。",
            "request_key": form["key"] + "-dm", "alert_id": str(planted["alert"])}  # fmt: skip
    for _ in range(2):  # the double click
        assert (
            client.post("/social/crisis/statements", data=data, follow_redirects=False).status_code
            == 303
        )
    assert replies(seeded_url, planted["conversations"], "dm") == {
        c: 1 for c in planted["conversations"]
    }

    async def statement(db):  # type: ignore[no-untyped-def]
        return (await db.scalars(select(CrisisStatement))).all()

    async def bodies(db):  # type: ignore[no-untyped-def]
        return set(await db.scalars(select(Message.body).where(
            Message.direction == "out", Message.conversation_id.in_(planted["conversations"]))))  # fmt: skip

    assert run(seeded_url, bodies) == {"您好，我是张建华，已为您登记。"}  # the display name
    rows = run(seeded_url, statement)
    assert len(rows) == 1 and rows[0].state == "sent" and rows[0].sent_count == 3
    assert list(rows[0].skipped.values()) == ["not engaged: no conversation"]  # the listened post

    # Sending the same statement again (a retried request) adds nothing either.
    async def resend(db):  # type: ignore[no-untyped-def]
        return await service.send(
            db, rows[0].id, bank=None, since=utcnow() - timedelta(hours=1), now=utcnow()
        )

    run(seeded_url, resend)
    assert replies(seeded_url, planted["conversations"]) == {c: 1 for c in planted["conversations"]}


def test_a_public_statement_waits_for_someone_else_to_approve_it(
    client: TestClient, seeded_url: str
) -> None:
    planted = plant(seeded_url)
    run(seeded_url, lambda db: create_user(db, username="supervisor2", password="Demo-pass-123!",
                                           role="supervisor", display_name="第二主管"))  # fmt: skip
    as_user(client, "supervisor")
    form = topic_form(client, "盗刷")
    assert "Send for approval" in form["text"] or "提交审批" in form["text"]
    data = {"csrf": form["csrf"], "label": "盗刷", "mode": "comment", "body": "请勿轻信陌生来电。",
            "request_key": form["key"] + "-comment"}  # fmt: skip
    assert (
        client.post("/social/crisis/statements", data=data, follow_redirects=False).status_code
        == 303
    )
    assert replies(seeded_url, planted["conversations"]) == {}, "nothing public before approval"
    statement_id = run(seeded_url, lambda db: db.scalar(select(CrisisStatement.id)))
    own = client.post(f"/social/crisis/statements/{statement_id}/review",
                      data={"csrf": form["csrf"], "decision": "approve"})  # fmt: skip
    assert own.status_code == 403
    # An analyst may use the desk but not approve.
    csrf = as_user(client, "analyst")
    refused = client.post(
        f"/social/crisis/statements/{statement_id}/review",
        data={"csrf": csrf, "decision": "approve"},
    )
    assert refused.status_code == 403
    client.cookies.clear()
    assert login(client, "supervisor2", "Demo-pass-123!").status_code == 303
    csrf = CSRF.search(client.get("/social/crisis").text).group(1)
    approved = client.post(f"/social/crisis/statements/{statement_id}/review",
                           data={"csrf": csrf, "decision": "approve"}, follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303
    assert replies(seeded_url, planted["conversations"], "comment") == {
        c: 1 for c in planted["conversations"]
    }
    again = client.post(
        f"/social/crisis/statements/{statement_id}/review",
        data={"csrf": csrf, "decision": "approve"},
    )
    assert again.status_code == 409


def test_a_private_reply_needs_no_approval_but_a_public_one_under_a_strict_playbook_does() -> None:
    from kefu.social.crisis import playbooks

    fraud = playbooks.for_term("信用卡盗刷")
    fees = playbooks.for_term("乱收费")
    assert (
        fraud.name == "card_fraud"
        and fraud.needs_approval("comment")
        and not fraud.needs_approval("dm")
    )
    assert fees.name == "fees_complaint" and not fees.needs_approval("comment")
    assert playbooks.for_term("天气不错").name == "general"


def test_escalation_records_and_their_outcome(client: TestClient, seeded_url: str) -> None:
    planted = plant(seeded_url)
    csrf = as_user(client, "analyst")
    made = client.post("/social/crisis/escalations", data={"csrf": csrf, "label": "盗刷", "team": "risk",
                       "note": "疑似批量盗刷", "alert_id": str(planted["alert"])}, follow_redirects=False)  # fmt: skip
    assert made.status_code == 303
    assert client.post("/social/crisis/escalations", data={"csrf": csrf, "label": "盗刷", "team": "ceo",
                                                           "note": "x"}).status_code == 422  # fmt: skip
    assert (
        client.post(
            "/social/crisis/escalations/1/outcome", data={"csrf": csrf, "outcome": "ok"}
        ).status_code
        == 403
    )
    csrf = as_user(client, "supervisor")
    done = client.post("/social/crisis/escalations/1/outcome", data={"csrf": csrf, "outcome": "已冻结涉事商户"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert "已冻结涉事商户" in client.get("/social/crisis").text
    assert (
        client.post(
            "/social/crisis/escalations/1/outcome", data={"csrf": csrf, "outcome": "再来"}
        ).status_code
        == 409
    )


def test_customer_text_is_escaped_and_masked_by_role(client: TestClient, seeded_url: str) -> None:
    plant(seeded_url, term="盗刷", text=HOSTILE + " 盗刷")
    as_user(client, "supervisor")
    page = client.get("/social/crisis/topic", params={"label": "盗刷"}).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    assert "6222021234567890123" not in page and "13912345678" not in page
    assert "王小0" in page  # supervisors answer customers: the author's handle in full
    as_user(client, "analyst")
    page = client.get("/social/crisis/topic", params={"label": "盗刷"}).text
    assert "王小0" not in page and "6222021234567890123" not in page
    assert 'action="/social/crisis/statements"' in page  # analysts hold CRISIS_DESK


def test_the_board_is_computed_again_when_an_alert_appears_not_on_every_post(
    client: TestClient, seeded_url: str
) -> None:
    as_user(client, "supervisor")
    assert "暂无话题" in client.get("/social/crisis/fragment").text

    async def posts_only(db):  # type: ignore[no-untyped-def]
        now = utcnow()
        for n in range(6):
            db.add(SocialPost(platform="weibo", account="bank", external_id=f"q{n}", kind="mention",
                              author_uid=f"q{n}", text="网点排队太久", posted_at=now, received_at=now,
                              sentiment_label="negative", keywords=["排队", "网点"], topic="网点排队",
                              state="queued"))  # fmt: skip

    run(seeded_url, posts_only)
    assert "暂无话题" in client.get("/social/crisis/fragment").text, "the cached board"
    plant(seeded_url)  # an alert: the board is computed again at once
    fragment = client.get("/social/crisis/fragment").text
    assert "暂无话题" not in fragment and "排队" in fragment and "盗刷" in fragment
