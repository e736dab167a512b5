"""The listening, rules and posts pages: hostile post text escaped and its numbers masked for
every role, engage/ignore through htmx or plain forms, rules validated in Chinese and audited,
the CSV export masked and safe to open in a spreadsheet."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.social import service
from kefu.social.analysis import Author
from kefu.social.models import ListeningRule, SocialPost
from tests.conftest import CSRF, login
from tests.social.store_support import post

pytestmark = pytest.mark.db

CARD = "6225880212345678"
HOSTILE = f'招商银行 <script>alert("x")</script> 卡号{CARD} 电话13812345678 被盗刷了'


def _db(url: str, work):  # type: ignore[no-untyped-def]
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


@pytest.fixture
def captured(seeded_url: str) -> int:
    async def work(db):  # type: ignore[no-untyped-def]
        rule = ListeningRule(name="品牌", include_terms=["招商银行"])
        db.add(rule)
        await db.flush()
        row = await service.ingest(
            db, post("cap1", kind="listening", text=HOSTILE, captured_by=rule.id,
                     author=Author(uid="u5", name="<b>路人</b>"))
        )  # fmt: skip
        # These tests are about the pages, not the spam model: whatever it makes of a post
        # full of markup and numbers, this one waits in listening.
        row.state, row.spam = "listening", False
        await service.ingest(db, post("q1", text="@招商银行 账单怎么查"))
        return row.id

    return _db(seeded_url, work)


def _csrf(client: TestClient, url: str = "/social/listening") -> str:
    return CSRF.search(client.get(url).text).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("user", ["agent1", "supervisor", "analyst"])
def test_post_text_is_escaped_and_masked_for_every_role(
    client: TestClient, captured: int, user: str
) -> None:
    login(client, user)
    for url in ("/social/listening", "/social/posts"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
        assert "<b>路人</b>" not in page.text
        assert CARD not in page.text and "6225********5678" in page.text
        assert "13812345678" not in page.text and "138****5678" in page.text


def test_listening_shows_captured_posts_only_and_filters(client: TestClient, captured: int) -> None:
    login(client, "agent1")
    page = client.get("/social/listening")
    assert f'data-testid="post-{captured}"' in page.text
    assert "账单怎么查" not in page.text  # addressed posts are in the service queue, not here
    assert "post-" + str(captured) not in client.get("/social/listening?sentiment=positive").text
    assert client.get("/social/listening?sentiment=furious").status_code == 422
    assert client.get("/social/listening?platform=<x>").status_code == 422


def test_engage_through_htmx_links_the_conversation(
    client: TestClient, captured: int, seeded_url: str
) -> None:
    login(client, "agent1")
    token = _csrf(client)
    answer = client.post(f"/social/listening/{captured}/engage", data={"csrf": token},
                         headers={"HX-Request": "true"})  # fmt: skip
    assert answer.status_code == 200
    assert 'data-state="engaged"' in answer.text and "/workspace/conversations/" in answer.text
    assert CARD not in answer.text
    again = client.post(f"/social/listening/{captured}/engage", data={"csrf": token},
                        follow_redirects=False)  # fmt: skip
    assert again.status_code == 303 and again.headers["location"].startswith(
        "/workspace/conversations/"
    )

    async def check(db):  # type: ignore[no-untyped-def]
        row = await db.get(SocialPost, captured)
        conversations = (await db.scalars(select(Conversation))).all()
        actions = (await db.scalars(select(AuditEntry.action))).all()
        return row.state, row.conversation_id, [c.id for c in conversations], actions

    state, conversation_id, conversations, actions = _db(seeded_url, check)
    assert state == "engaged" and conversation_id in conversations
    assert actions.count("social.engage") == 2


def test_an_analyst_engages_without_being_sent_to_a_conversation(
    client: TestClient, captured: int
) -> None:
    login(client, "analyst")
    answer = client.post(f"/social/listening/{captured}/engage", data={"csrf": _csrf(client)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/social/listening"
    page = client.get("/social/listening?state=engaged").text
    assert f'data-testid="conversation-{captured}"' in page
    assert "/workspace/conversations/" not in page  # not a link the analyst may not follow
    assert "/workspace/conversations/" not in client.get("/social/posts").text


def test_ignore_and_refusals(client: TestClient, captured: int) -> None:
    login(client, "analyst")
    token = _csrf(client)
    answer = client.post(f"/social/listening/{captured}/ignore", data={"csrf": token},
                         headers={"HX-Request": "true"})  # fmt: skip
    assert 'data-state="ignored"' in answer.text
    twice = client.post(f"/social/listening/{captured}/ignore", data={"csrf": token},
                        headers={"HX-Request": "true"})  # fmt: skip
    assert "已不在待处理的监测列表中" in twice.text
    assert client.post("/social/listening/99999/ignore", data={"csrf": token}).status_code == 404
    assert (
        client.post(f"/social/listening/{captured}/ignore", data={"csrf": "x"}).status_code == 400
    )


def test_rules_are_validated_in_chinese_and_audited(client: TestClient, seeded_url: str) -> None:
    login(client, "agent1")
    assert client.get("/social/listening/rules").status_code == 403
    client.cookies.clear()
    login(client, "supervisor")
    token = _csrf(client, "/social/listening/rules")
    bad = client.post(
        "/social/listening/rules",
        data={"csrf": token, "name": "品牌", "include_terms": "招行", "exclude_terms": "招行"},
    )
    assert bad.status_code == 422 and "不能同时是包含词和排除词" in bad.text
    assert "招行" in bad.text  # what was typed is kept in the form
    made = client.post("/social/listening/rules", data={
        "csrf": token, "name": "<i>品牌</i>", "include_terms": "招商银行，CMB\n招行",
        "exclude_terms": "招聘", "platforms": "weibo, Douyin", "active": "1"},
        follow_redirects=False)  # fmt: skip
    assert made.status_code == 303

    async def rule(db):  # type: ignore[no-untyped-def]
        return (await db.scalars(select(ListeningRule))).one()

    row = _db(seeded_url, rule)
    assert row.include_terms == ["招商银行", "CMB", "招行"]
    assert row.platforms == ["weibo", "douyin"] and row.active and row.created_by == "supervisor"
    page = client.get("/social/listening/rules").text
    assert "<i>品牌</i>" not in page and "&lt;i&gt;" in page
    changed = client.post(f"/social/listening/rules/{row.id}", data={
        "csrf": token, "name": "品牌", "include_terms": "招行", "exclude_terms": "",
        "platforms": ""}, follow_redirects=False)  # fmt: skip
    assert changed.status_code == 303
    assert _db(seeded_url, rule).active is False  # an unticked box: paused
    assert client.post(f"/social/listening/rules/{row.id}", data={
        "csrf": token, "name": "", "include_terms": "招行"}).status_code == 422  # fmt: skip
    gone = client.post(f"/social/listening/rules/{row.id}/delete", data={"csrf": token},
                       follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303
    assert client.post(f"/social/listening/rules/{row.id}/delete",
                       data={"csrf": token}).status_code == 404  # fmt: skip

    async def audit(db):  # type: ignore[no-untyped-def]
        return (
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("social.rule.%"))
                .order_by(AuditEntry.id)
            )
        ).all()

    assert _db(seeded_url, audit) == [
        "social.rule.create",
        "social.rule.update",
        "social.rule.delete",
    ]


def test_csv_export_is_masked_filtered_and_formula_safe(
    client: TestClient, seeded_url: str
) -> None:
    async def work(db):  # type: ignore[no-untyped-def]
        await service.ingest(db, post("f1", text=f'=HYPERLINK("x") 卡号{CARD}'))
        await service.ingest(db, post("f2", platform="douyin", text="抖音上的帖子"))

    _db(seeded_url, work)
    login(client, "analyst")
    answer = client.get("/social/posts.csv?platform=weibo")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [r["platform"] for r in rows] == ["weibo"]
    assert rows[0]["text"].startswith("'=") and CARD not in answer.text
    assert "6225********5678" in rows[0]["text"]
    assert client.get("/social/posts.csv?state=nope").status_code == 422
