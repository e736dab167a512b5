"""The quality, search and privacy pages end to end over HTTP: inspected conversations, a
review, an agent's appeal and its decision; a search masked by role and its export, audited;
a dry run, a hold and an erasure refused under it."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest
from sqlalchemy import select

from kefu.agents.models import Agent
from kefu.audit.models import AuditEntry
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.quality import service
from kefu.quality.inspection import load_rules
from kefu.quality.models import QaAppeal, QaScore
from tests.conftest import CSRF, login
from tests.quality.conftest import conversation

pytestmark = pytest.mark.db
CARD = "6214830000001126"
PHONE = "13912345678"


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


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


def _seed(url: str) -> tuple[int, int]:
    """A closed conversation of agent1's with findings, inspected; returns (agent id, score id)."""

    async def work(db):  # type: ignore[no-untyped-def]
        agent = await db.scalar(select(Agent.id).where(Agent.username == "agent1"))
        conv = await conversation(db, [
            ("customer", f"我的信用卡账单是多少？卡号{CARD}"),
            ("agent", f"您的本期账单金额是3000元，卡号{CARD}"),
            ("customer", "好的"),
            ("customer", f"账单有疑问请回电{PHONE}"),
        ], agent_id=agent, closed=True)  # fmt: skip
        await service.inspect_pending(db, load_rules(), now=utcnow(), sample_rate=1.0,
                                      polarity=lambda text: 0.0)  # fmt: skip
        return agent, await db.scalar(select(QaScore.id).where(QaScore.conversation_id == conv.id))

    return _db(url, work)


def _csrf(client, url: str) -> str:  # type: ignore[no-untyped-def]
    return CSRF.search(client.get(url).text).group(1)  # type: ignore[union-attr]


def test_review_appeal_and_decision(client, app_settings) -> None:  # type: ignore[no-untyped-def]
    agent_id, score_id = _seed(app_settings.database_url)
    login(client, "supervisor")
    page = client.get("/quality")
    assert page.status_code == 200 and f"/quality/scores/{score_id}" in page.text
    detail = client.get(f"/quality/scores/{score_id}")
    assert "先核身后谈账户" in detail.text and "坐席消息含未脱敏信息" in detail.text
    assert CARD not in detail.text  # the transcript is masked
    token = CSRF.search(detail.text).group(1)  # type: ignore[union-attr]
    bad = client.post(f"/quality/scores/{score_id}/review", data={
        "csrf": token, "courtesy": "25", "accuracy": "20", "compliance": "10",
        "resolution": "10"})  # fmt: skip
    assert bad.status_code == 422 and "0–20" in bad.text
    done = client.post(f"/quality/scores/{score_id}/review", data={
        "csrf": token, "courtesy": "18", "accuracy": "20", "compliance": "10",
        "resolution": "12", "note": "核身缺失"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    client.get("/logout")

    login(client, "agent1")
    assert client.get(f"/quality/scores/{score_id}").status_code == 403
    mine = client.get(f"/quality/mine/{score_id}")
    assert mine.status_code == 200 and "60.0" in mine.text
    token = CSRF.search(mine.text).group(1)  # type: ignore[union-attr]
    sent = client.post(f"/quality/mine/{score_id}/appeal",
                       data={"csrf": token, "reason": "客户已在APP登录核身"}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    again = client.post(f"/quality/mine/{score_id}/appeal", data={"csrf": token, "reason": "再次"})
    assert again.status_code == 409
    client.get("/logout")

    login(client, "supervisor")
    appeal_id = _db(app_settings.database_url, lambda db: db.scalar(select(QaAppeal.id)))
    token = _csrf(client, f"/quality/scores/{score_id}")
    decided = client.post(f"/quality/appeals/{appeal_id}/decide", data={
        "csrf": token, "outcome": "upheld", "new_score": "85", "note": "属实"},
        follow_redirects=False)  # fmt: skip
    assert decided.status_code == 303
    row = _db(app_settings.database_url, lambda db: db.get(QaScore, score_id))
    assert (row.score, row.review_score, row.agent_id) == (85.0, 60.0, agent_id)
    actions = _db(app_settings.database_url,
                  lambda db: db.scalars(select(AuditEntry.action)))  # fmt: skip
    assert {"quality.review", "quality.appeal", "quality.appeal_decided"} <= set(actions.all())


def test_search_masked_by_role_export_audited_and_privacy(client, app_settings) -> None:  # type: ignore[no-untyped-def]
    _seed(app_settings.database_url)

    async def index(db):  # type: ignore[no-untyped-def]
        from kefu.conversations import search

        return await search.catch_up(db, lag_seconds=0)

    _db(app_settings.database_url, index)  # (the app's quality worker may have been first)
    login(client, "supervisor")
    found = client.get("/conversations/search", params={"q": "信用卡 账单"})
    assert found.status_code == 200
    assert "<td>138****8000</td>" in found.text and CARD not in found.text
    assert f"我的信用卡账单是多少？卡号{CARD[:4]}********" in found.text
    assert "您的本期账单金额" not in found.text  # every word must occur: it has no 信用卡
    assert client.get("/conversations/search", params={"q": "，。"}).status_code == 422
    # As the form sends it: "all agents" is an empty agent, not an error.
    form = client.get("/conversations/search?q=账单&channel=&agent=&queue=&start=&end=")
    assert form.status_code == 200 and 'data-testid="hit-' in form.text
    client.get("/logout")

    login(client, "analyst")  # no CUSTOMERS_READ: the customer's address is not shown
    found = client.get("/conversations/search", params={"q": "账单"})
    assert len(re.findall(r'data-testid="hit-', found.text)) >= 2
    assert "<td>138****8000</td>" not in found.text
    export = client.get("/conversations/search/export.csv", params={"q": "账单"})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "会话" and len(rows) >= 4 and not any(CARD in c for r in rows for c in r)
    assert any(r[5].startswith("我的信用卡账单是多少") for r in rows[1:])
    xlsx = client.get("/conversations/search/export.xlsx", params={"q": "账单"})
    assert xlsx.content[:2] == b"PK"
    # PDF: the same masked transcripts, parsed back; no card or phone number in full.
    pdf = client.get("/conversations/search/export.pdf", params={"q": "账单"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert "会话记录" in text and "我的信用卡账单是多少" in text and "已脱敏" in text
    assert "请回电139****5678" in text
    assert CARD not in text and PHONE not in text
    audited = _db(app_settings.database_url, lambda db: db.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "conversations.export")))  # fmt: skip
    assert "pdf" in {d["format"] for d in audited.all()}
    assert client.get("/privacy").status_code == 403
    client.get("/logout")

    login(client, "admin")
    token = _csrf(client, "/privacy")
    dry = client.post("/privacy/purge", data={"csrf": token, "mode": "dry"})
    assert dry.status_code == 200 and 'data-testid="kind-conversations"' in dry.text
    bad = client.post("/privacy/holds", data={"csrf": token, "customer": "NOPE", "reason": "x案"})
    assert bad.status_code == 404
    customer = _db(app_settings.database_url, lambda db: db.scalar(
        select(__import__("kefu.identity.models", fromlist=["Customer"]).Customer.bank_customer_no)
        .limit(1)))  # fmt: skip
    held = client.post("/privacy/holds", data={"csrf": token, "customer": customer,
                                               "reason": "诉讼保全"}, follow_redirects=False)  # fmt: skip
    assert held.status_code == 303
    refused = client.post("/privacy/requests", data={"csrf": token, "customer": customer,
                                                     "kind": "erasure", "confirm": customer})  # fmt: skip
    assert refused.status_code == 200 and 'data-testid="privacy-done"' in refused.text
    exported = client.post("/privacy/requests", data={"csrf": token, "customer": customer,
                                                      "kind": "export"})  # fmt: skip
    assert exported.json()["customer"]["bank_customer_no"] == customer
    actions = set(_db(app_settings.database_url,
                      lambda db: db.scalars(select(AuditEntry.action))).all())  # fmt: skip
    assert {
        "conversations.search",
        "conversations.export",
        "retention.dry_run",
        "retention.hold",
        "privacy.erasure_refused",
        "privacy.export",
    } <= actions
