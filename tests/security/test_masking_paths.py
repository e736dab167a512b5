"""Issue 21, findings 6 and 7: card, ID and phone numbers customers type never leave the desk
unmasked, on any path that shows customer text, for any role that reads it; a teller reads no
conversation content. The stored text stays as typed (audit and the agent's work need it).

Rule (docs/security.md, "Conversation content on the desk"): agents and supervisors read
customer text with card, ID and phone numbers masked; no role reads them unmasked through the
desk; tellers, analysts and admins read no conversation content at all.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu.conversations.models import Message
from kefu.db.engine import make_engine, make_sessionmaker
from tests.conftest import login

pytestmark = pytest.mark.db

# The forms the attacker typed (issue 21, finding 6), and each one's digits alone.
CARD_SPACED = "6214 8300 0000 1126 488"
CARD_DASHED = "6214-8300-0000-1126-488"
CARD_WIDE = "６２１４８３００００００１１２６４８８"
ID_NUMBER = "110101199003071234"
PHONE = "+8615212345679"
SAMPLES = (CARD_SPACED, CARD_DASHED, CARD_WIDE, ID_NUMBER, PHONE)
RAW = (*SAMPLES, "6214830000001126488", "15212345679", "8615212345679")
TEXT = (
    f"信用卡被盗刷了，卡号{CARD_SPACED}，另一张{CARD_DASHED}，"
    f"全角{CARD_WIDE}，身份证{ID_NUMBER}，电话{PHONE}"
)
CUSTOMER = "C0000000001"


def _leaks(text: str) -> list[str]:
    return [raw for raw in RAW if raw in text]


def _intake(client, subject: str) -> int:  # type: ignore[no-untyped-def]
    answer = client.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": TEXT, "subject": subject,
        "customer_no": CUSTOMER, "keywords": ["盗刷", CARD_SPACED],
    })  # fmt: skip
    assert answer.status_code == 201, answer.text
    return int(answer.json()["conversation_id"])


@pytest.fixture
def conversations(client):  # type: ignore[no-untyped-def]
    """Two conversations of one customer (so each is the other's past and history), a note
    with an @mention and an escalation reason, all carrying every form of the numbers."""
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    older = _intake(client, f"卡号{CARD_SPACED}")
    newer = _intake(client, f"身份证{ID_NUMBER} 电话{PHONE}")
    note = client.post(f"/api/v1/conversations/{newer}/notes",
                       json={"body": f"@agent1 客户说卡号是{CARD_DASHED}，电话{PHONE}"})  # fmt: skip
    assert note.status_code == 201, note.text
    escalated = client.post(f"/api/v1/conversations/{newer}/escalate",
                            json={"reason": f"客户身份证{ID_NUMBER}，卡{CARD_WIDE}"})  # fmt: skip
    assert escalated.status_code == 200, escalated.text
    client.cookies.clear()
    return older, newer


def _paths(older: int, newer: int) -> list[str]:
    return [
        "/workspace/conversations",
        "/api/v1/conversations",
        f"/api/v1/conversations/{newer}",
        f"/api/v1/conversations/{older}",
        f"/api/v1/conversations/{newer}/customer",
        f"/workspace/conversations/{newer}",
        f"/workspace/conversations/{older}",
        "/api/v1/inbox",
        "/workspace/inbox",
        "/",
    ]


@pytest.mark.parametrize("username", ["agent1", "supervisor"])
def test_no_path_shows_the_numbers_unmasked(client, conversations, username: str) -> None:  # type: ignore[no-untyped-def]
    older, newer = conversations
    login(client, username)
    paths = _paths(older, newer)
    if username == "supervisor":
        paths += ["/supervisor/queues", "/api/v1/supervisor/overview"]
    shown = {}
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
        shown[path] = answer.text
        assert _leaks(answer.text) == [], path
    # The content is there, masked: the check above is not passing on an empty page.
    detail = client.get(f"/api/v1/conversations/{newer}").json()
    assert "6214********6488" in detail["messages"][0]["body"]
    assert "110101********1234" in detail["messages"][0]["body"]
    assert "+86152****5679" in detail["messages"][0]["body"]
    earlier = [m["body"] for m in detail["history"] if m["conversation_id"] == older]
    assert earlier and "6214********6488" in earlier[0]
    assert "6214********6488" in detail["notes"][0]["body"]
    assert any("110101********1234" in (e["detail"].get("reason") or "") for e in detail["events"])
    panel = client.get(f"/api/v1/conversations/{newer}/customer").json()
    assert [p["subject"] for p in panel["past"] if p["id"] == older] == ["卡号6214********6488"]
    listed = client.get("/api/v1/conversations").json()
    assert "身份证110101********1234 电话+86152****5679" in [c["subject"] for c in listed]
    if username == "agent1":
        mentions = client.get("/api/v1/inbox").json()["mentions"]
        assert mentions and "6214********6488" in mentions[0]["body"]
    else:
        moves = client.get("/api/v1/supervisor/overview").json()["moves"]
        assert any("110101********1234" in (m["reason"] or "") for m in moves)


def test_the_stored_text_stays_as_typed(client, conversations, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    _, newer = conversations

    async def stored() -> list[str]:
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return list(
                    await session.scalars(
                        select(Message.body).where(Message.conversation_id == newer)
                    )
                )
        finally:
            await engine.dispose()

    assert TEXT in asyncio.run(stored())


@pytest.mark.parametrize("username", ["teller", "analyst", "admin"])
def test_roles_outside_the_contact_centre_read_no_conversation(
    client, conversations, username: str
) -> None:  # type: ignore[no-untyped-def]
    """Finding 7: the customer panel carried other conversations' subjects to a teller."""
    older, newer = conversations
    login(client, username)
    for path in _paths(older, newer)[:7]:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code)
        assert _leaks(answer.text) == [] and "盗刷" not in answer.text
    if username == "teller":  # the teller still reads a customer at the counter, masked
        card = client.get(f"/api/v1/customers/{CUSTOMER}")
        assert card.status_code == 200 and "****" in card.json()["mobile"]
