"""CSAT end to end on the database: asked when routing closes a conversation (through the
message contract), answered by the customer's next message through the pipeline's
self-service, refused politely out of range or after the survey, counted once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kefu.conversations.models import Message
from kefu.db.base import utcnow
from kefu.messaging.contract import Reply, Turn
from kefu.outbound.models import OptOut
from kefu.quality import csat, kpis
from kefu.quality.models import CsatResponse, CsatSurvey
from kefu.routing import service as routing
from tests.quality.conftest import conversation

pytestmark = pytest.mark.db


class Echo:
    """The assistant's stand-in: says what it was given."""

    async def handle(self, db, turn: Turn) -> Reply:  # type: ignore[no-untyped-def]
        return Reply([f"assistant:{turn.text}"], intent="other")

    async def identify(self, db, *, kind, value, customer_no) -> bool:  # type: ignore[no-untyped-def]
        return True


def turn(text: str, contact: str = "13800138000") -> Turn:
    return Turn("sms", contact, text, utcnow().date())


@pytest.mark.parametrize(
    ("text", "score"),
    [("5", 5), (" ４分 ", 4), ("3星", 3), ("10", 10), ("好的", None), ("5个问题", None)],
)
def test_parse_score(text: str, score: int | None) -> None:
    assert csat.parse_score(text) == score


def _answers_once(sessions, run) -> None:  # type: ignore[no-untyped-def]
    capture = csat.CsatCapture(Echo())

    async def go() -> None:
        async with sessions() as db:
            conv = await conversation(db, [("customer", "查账单"), ("agent", "您好")])
            await routing.close(db, conversation_id=conv.id, now=utcnow(), actor="wang")
            await db.commit()
            asked = (await db.scalars(select(Message).where(
                Message.conversation_id == conv.id, Message.sender_type == "system"))).all()  # fmt: skip
            assert [m.body for m in asked] == [csat.current_question()]
            assert asked[0].delivery_state == "accepted"  # the relay hands it to the channel

            out = await capture.handle(db, turn("7"))
            assert out.texts == [csat.OUT_OF_RANGE]  # refused, still open
            out = await capture.handle(db, turn("４"))
            assert out.texts == [csat.THANKS]
            # Right after the answer a bare digit is the customer's next request (a menu
            # choice), not a second score: it goes to the assistant, and is not counted.
            out = await capture.handle(db, turn("1"))
            assert out.texts == ["assistant:1"]
            out = await capture.handle(db, turn("2"))
            assert out.texts == ["assistant:2"]  # the survey is over: self-service again
            await db.commit()
            scores = (await db.scalars(select(CsatResponse.score))).all()
            assert scores == [4]
            start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(days=1)
            assert await kpis.csat_by_agent(db, start, end) == {1: (4.0, 1)}
            assert await kpis.csat_response_rate(db, start, end) == (1, 1)

    run(go())


def _only_the_next_message(sessions, run) -> None:  # type: ignore[no-untyped-def]
    capture = csat.CsatCapture(Echo())

    async def go() -> None:
        async with sessions() as db:
            a = await conversation(db, [("agent", "您好")], contact="13900000001")
            b = await conversation(db, [("agent", "您好")], contact="13900000002")
            for conv in (a, b):
                await routing.close(db, conversation_id=conv.id, now=utcnow(), actor="wang")
            await db.commit()
            # a: the customer writes something else first; the survey is skipped.
            out = await capture.handle(db, turn("我还想问信用卡", "13900000001"))
            assert out.texts == ["assistant:我还想问信用卡"]
            out = await capture.handle(db, turn("5", "13900000001"))
            assert out.texts == ["assistant:5"]
            # b: answered after the window: refused politely, nothing recorded.
            survey = await db.scalar(select(CsatSurvey).where(CsatSurvey.conversation_id == b.id))
            survey.expires_at = utcnow() - timedelta(minutes=1)
            out = await capture.handle(db, turn("5", "13900000002"))
            assert out.texts == [csat.CLOSED]
            await db.commit()
            answered = select(CsatResponse).where(CsatResponse.conversation_id.in_([a.id, b.id]))
            assert (await db.scalars(answered)).all() == []
            ours = CsatSurvey.conversation_id.in_([a.id, b.id])
            rows = await db.execute(
                select(CsatSurvey.conversation_id, CsatSurvey.state).where(ours)
            )
            states = {cid: state for cid, state in rows.all()}
            assert states == {a.id: "skipped", b.id: "closed"}

    run(go())


def _not_asked(sessions, run) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with sessions() as db:
            db.add(OptOut(kind="phone", value="13700000000", source="sms"))
            out = await conversation(db, [("agent", "您好")], contact="13700000000")
            bot = await conversation(db, [("customer", "余额")], agent_id=None)
            weibo = await conversation(db, [("agent", "您好")], channel="weibo", contact="uid1")
            for conv in (out, bot, weibo):
                await routing.close(db, conversation_id=conv.id, now=utcnow(), actor="wang")
            await db.commit()
            assert (await db.scalars(select(CsatSurvey))).all() == []
            system = await db.scalars(select(Message).where(Message.sender_type == "system"))
            assert system.all() == []

    run(go())


def test_csat_on_the_database(sessions, run) -> None:  # type: ignore[no-untyped-def]
    """One database for the three stories (a migration per test is the slow part): asked on
    close and answered once; only the next message, within the window; who is not asked."""
    _not_asked(sessions, run)
    _answers_once(sessions, run)
    _only_the_next_message(sessions, run)
