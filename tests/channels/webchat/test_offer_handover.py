"""A click of interest on the offer banner hands the visitor to an agent (issue #18): one
conversation and one routing task however many clicks arrive at once (SQLite and PostgreSQL),
routed to the deposit and wealth desk for a deposit, with the campaign in a system note the
agent reads escaped, the product first and marked in the agent's next-best-offer panel, and
the hand-off's line in the visitor's chat; the ``interested`` outcome recorded once, against
that conversation. An anonymous visitor's click is refused and hands nothing over."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from kefu.conversations.models import Conversation, Message
from kefu.crosssell.demo import DEMO_BANNER_CAMPAIGN, DEMO_BANNER_VISITOR
from kefu.crosssell.models import Campaign, OfferOutcome
from kefu.routing.models import RoutingTask
from tests.channels.webchat.conftest import API, auth, customer_token, open_session, run, wait_for
from tests.channels.webchat.test_offer import _scalar
from tests.conftest import login

pytestmark = pytest.mark.db

HOSTILE = "<script>alert(1)</script>一年定存"
ADDRESS = f"c:{DEMO_BANNER_VISITOR}"


async def _rename(url: str) -> None:
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            await db.execute(update(Campaign).where(Campaign.name == DEMO_BANNER_CAMPAIGN)
                             .values(name=HOSTILE))  # fmt: skip
    finally:
        await engine.dispose()


def _count(url: str, model, *where) -> int:  # type: ignore[no-untyped-def]
    return int(run(_scalar(url, select(func.count()).select_from(model).where(*where))) or 0)


def test_click_hands_over_once_with_a_note_and_the_offer_first(chat, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    run(_rename(seeded_url))  # a campaign name with markup: the agent must read it as text
    visitor = open_session(chat, customer_token=customer_token(DEMO_BANNER_VISITOR))
    url = f"{API}/sessions/{visitor['session']}/offer"
    offer = chat.post(url, headers=auth(visitor)).json()["offer"]
    assert offer is not None
    answer = f"{url}/{offer['id']}"

    # Four clicks at once (a double click, a retry): each answers 204, one hand-off.
    def click(_: int) -> int:
        return chat.post(answer, json={"action": "click"}, headers=auth(visitor)).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(click, range(4))) == [204] * 4
    assert click(0) == 204  # and once more later: nothing more

    mine = (Conversation.channel == "webchat", Conversation.contact == ADDRESS)
    assert _count(seeded_url, Conversation, *mine) == 1
    cid = run(_scalar(seeded_url, select(Conversation.id).where(*mine)))
    assert _count(seeded_url, RoutingTask, RoutingTask.conversation_id == cid) == 1
    task = run(_scalar(seeded_url, select(RoutingTask).where(RoutingTask.conversation_id == cid)))
    assert task.queue == "deposit_wealth"  # a deposit: the deposit and wealth desk's queue
    assert task.attributes["product_code"] == "DEP1Y"
    outcomes = run(_scalar(seeded_url, select(func.count()).select_from(OfferOutcome).where(
        OfferOutcome.customer_no == DEMO_BANNER_VISITOR, OfferOutcome.outcome == "interested",
        OfferOutcome.conversation_id == cid)))  # fmt: skip
    assert outcomes == 1
    assert _count(seeded_url, OfferOutcome, OfferOutcome.customer_no == DEMO_BANNER_VISITOR) == 1
    notes = _count(seeded_url, Message, Message.conversation_id == cid,
                   Message.sender_type == "system", Message.body.contains("感兴趣（产品 DEP1Y），请跟进"))  # fmt: skip
    assert notes == 1

    # The visitor: one hand-off line in the chat, and the queue state.
    body = wait_for(chat, visitor, lambda b: b["state"]["handed_off"])
    lines = [m["text"] for m in body["messages"] if "已为您转接理财顾问" in m["text"]]
    assert len(lines) == 1 and body["state"]["queue_position"] >= 1
    # A message typed now joins the same conversation (the bot stays silent).
    chat.post(f"{API}/sessions/{visitor['session']}/messages", json={"text": "利率多少？"},
              headers=auth(visitor))  # fmt: skip
    wait_for(chat, visitor, lambda b: b["state"]["read_upto"] >= b["messages"][-1]["seq"] - 1)
    assert _count(seeded_url, Conversation, *mine) == 1

    # The agent's side: the note escaped, the offer named first in the panel.
    assert login(chat, "supervisor").status_code == 303
    page = chat.get(f"/workspace/conversations/{cid}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;一年定存" in page.text
    assert "<script>alert(1)</script>" not in page.text
    panel = chat.get(f"/workspace/conversations/{cid}/offers")
    assert panel.status_code == 200 and 'data-testid="offers-lead"' in panel.text
    assert "DEP1Y" in panel.text


def test_dismiss_and_anonymous_click_hand_nothing_over(chat, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    visitor = open_session(chat, customer_token=customer_token(DEMO_BANNER_VISITOR))
    url = f"{API}/sessions/{visitor['session']}/offer"
    offer = chat.post(url, headers=auth(visitor)).json()["offer"]
    guest = open_session(chat)
    refused = chat.post(f"{API}/sessions/{guest['session']}/offer/{offer['id']}",
                        json={"action": "click"}, headers=auth(guest))  # fmt: skip
    assert refused.status_code == 404
    assert chat.post(f"{url}/{offer['id']}", json={"action": "dismiss"},
                     headers=auth(visitor)).status_code == 204  # fmt: skip
    # 不感兴趣 was the last word: a click after it records and hands over nothing.
    assert chat.post(f"{url}/{offer['id']}", json={"action": "click"},
                     headers=auth(visitor)).status_code == 204  # fmt: skip
    assert _count(seeded_url, Conversation, Conversation.contact == ADDRESS) == 0
    outcomes = run(_scalar(seeded_url, select(OfferOutcome.outcome).where(
        OfferOutcome.customer_no == DEMO_BANNER_VISITOR)))  # fmt: skip
    assert outcomes == "declined"


def test_click_while_an_agent_holds_the_chat_joins_that_conversation(chat, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    visitor = open_session(chat, customer_token=customer_token(DEMO_BANNER_VISITOR))
    url = f"{API}/sessions/{visitor['session']}/offer"
    offer = chat.post(url, headers=auth(visitor)).json()["offer"]
    chat.post(f"{API}/sessions/{visitor['session']}/messages", json={"text": "转人工"},
              headers=auth(visitor))  # fmt: skip
    wait_for(chat, visitor, lambda b: b["state"]["handed_off"])
    mine = (Conversation.channel == "webchat", Conversation.contact == ADDRESS)
    assert _count(seeded_url, Conversation, *mine) == 1
    assert chat.post(f"{url}/{offer['id']}", json={"action": "click"},
                     headers=auth(visitor)).status_code == 204  # fmt: skip
    assert _count(seeded_url, Conversation, *mine) == 1  # joined, not a second conversation
    cid = run(_scalar(seeded_url, select(Conversation.id).where(*mine)))
    assert _count(seeded_url, Message, Message.conversation_id == cid,
                  Message.sender_type == "system", Message.body.contains("请跟进")) == 1  # fmt: skip
    assert _count(seeded_url, Message, Message.conversation_id == cid,
                  Message.sender_type == "customer", Message.body.contains("感兴趣")) == 1  # fmt: skip
    body = wait_for(chat, visitor, lambda b: any("已为您转接理财顾问" in m["text"]
                                                 for m in b["messages"]))  # fmt: skip
    assert body["state"]["handed_off"]
