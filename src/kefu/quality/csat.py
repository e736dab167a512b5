"""CSAT: a closed conversation's customer is asked to score it on its channel, and the next
message from that address within the window answers.

The question leaves as a system message in the conversation through the message contract
(kefu.messaging.relay hands it to the channel like an agent's reply), with the scores as
answers to tap (``Choices``), so each channel words and delivers it its own way: WeChat as a
menu message whose tap comes back as the score, SMS as the question's "回复1-5" text. The answer is caught by :class:`CsatCapture`, which wraps the
pipeline's self-service (kefu.runtime.make_pipeline): every channel hands a customer's plain
message to self-service, while the pipeline's InboundRoutes are consulted only for traffic a
channel routes itself (a partner's sub-code, public social posts), so a route would not see
an SMS "4" sent to the main service number.

A survey moves open → answered | skipped (the next message was no score) | expired → closed.
After an answer every message goes to self-service (a bare "1" is then a menu choice, not a
second score); a score sent after the window of an unanswered survey is refused politely once
("closed") and anything later goes to self-service as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.messaging.contract import Choice, Choices, Reply, Turn
from kefu.messaging.pipeline import SelfService
from kefu.outbound.models import OptOut
from kefu.quality.models import CsatResponse, CsatSurvey
from kefu.quality.settings import QualitySettings
from kefu.vocabulary import DeliveryState, Direction, SenderType

THANKS = "感谢您的评价，我们会继续努力！"
OUT_OF_RANGE = "抱歉，评分请回复1-5之间的一个数字（5为非常满意），谢谢！"
ALREADY = "您已评价过本次服务，感谢您的反馈！"
CLOSED = "抱歉，本次服务评价已结束，无法再评分。如需帮助请直接留言。"

# The survey as answers to tap (WeChat shows a menu message; SMS sends the question's text,
# which asks for a reply 1-5). A tap comes back as its id, read like a typed score.
SCORE_CHOICES = Choices(
    head="感谢您的咨询，请点击为本次服务评分：",
    options=(Choice("5", "5 非常满意"), Choice("4", "4 满意"), Choice("3", "3 一般"),
             Choice("2", "2 不满意"), Choice("1", "1 非常不满意")),
    tail="回复TD退订",
)  # fmt: skip

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
# What reads as a score: a bare number, optionally with 分/星 ("5", "５分", "4星", " 3 ").
_SCORE = re.compile(r"^\s*(\d{1,3})\s*(?:分|星|颗星)?\s*[。.!！]?\s*$")


def parse_score(text: str) -> int | None:
    """The number ``text`` gives as a score (any number: the range is checked by the caller);
    None when it is not a score at all."""
    match = _SCORE.match(text.translate(_FULLWIDTH))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Answered:
    text: str  # what the customer is told
    recorded: bool  # a score was stored


async def ask(
    db: AsyncSession, conversation: Conversation, now: datetime, settings: QualitySettings
) -> CsatSurvey | None:
    """Asks the customer of the just-closed ``conversation`` for a score (in ``db``'s
    transaction); None when this channel is not asked, the address opted out (TD), or the
    conversation was never the customer's with an agent."""
    channel, contact = conversation.channel, conversation.contact
    if channel not in settings.csat_channels or not contact:
        return None
    if conversation.assigned_agent_id is None:
        return None  # nobody served it: there is no service to score
    if await db.scalar(select(OptOut.id).where(OptOut.value == contact).limit(1)):
        return None  # TD/退订: the customer asked for no more messages
    if await db.scalar(select(CsatSurvey.id).where(CsatSurvey.conversation_id == conversation.id)):
        return None  # reopened and closed again: asked once
    # An earlier question to the same address still open is superseded by this one.
    await db.execute(
        update(CsatSurvey)
        .where(CsatSurvey.channel == channel, CsatSurvey.contact == contact,
               CsatSurvey.state == "open")
        .values(state="expired")
    )  # fmt: skip
    survey = CsatSurvey(
        conversation_id=conversation.id, agent_id=conversation.assigned_agent_id,
        channel=channel, contact=contact, state="open", asked_at=now,
        expires_at=now + timedelta(hours=settings.csat_window_hours),
    )  # fmt: skip
    db.add(survey)
    db.add(
        Message(
            conversation_id=conversation.id, channel=channel,
            direction=Direction.OUTBOUND.value, sender_type=SenderType.SYSTEM.value,
            body=settings.csat_question, delivery_state=DeliveryState.ACCEPTED.value,
            choices=SCORE_CHOICES.as_json(),
        )
    )  # fmt: skip
    await db.flush()
    return survey


async def record(
    db: AsyncSession,
    *,
    conversation_id: int,
    agent_id: int | None,
    channel: str,
    score: int,
    now: datetime,
    comment: str | None = None,
) -> bool:
    """Stores one answer; False when the conversation already has one (counted once)."""
    if not 1 <= score <= 5:
        raise ValueError("a CSAT score is 1 to 5")
    if await db.scalar(
        select(CsatResponse.id).where(CsatResponse.conversation_id == conversation_id)
    ):
        return False
    try:
        async with db.begin_nested():
            db.add(CsatResponse(conversation_id=conversation_id, agent_id=agent_id,
                                channel=channel, score=score, comment=comment,
                                answered_at=now))  # fmt: skip
    except IntegrityError:  # a concurrent duplicate won the unique constraint
        return False
    return True


async def answer(
    db: AsyncSession, *, channel: str, contact: str, text: str, now: datetime
) -> Answered | None:
    """The survey's handling of the customer's message; None: not about a survey (the
    message goes on to self-service)."""
    survey = await db.scalar(
        select(CsatSurvey)
        .where(CsatSurvey.channel == channel, CsatSurvey.contact == contact,
               CsatSurvey.state.in_(("open", "answered", "expired")))
        .order_by(CsatSurvey.asked_at.desc(), CsatSurvey.id.desc())
        .limit(1)
    )  # fmt: skip
    if survey is None:
        return None
    score = parse_score(text)
    if survey.state == "open" and survey.expires_at <= now:
        survey.state = "expired"
    if survey.state != "open":
        # The survey is over: whatever comes next goes to self-service, except a late score
        # for a survey that expired unanswered, refused politely once. After an answered
        # survey a bare digit is the customer's next request (a menu choice "1", an amount),
        # not a second score: answering it "已评价" would swallow it.
        late = survey.state == "expired" and score is not None
        survey.state = "closed"
        if not late or now - survey.asked_at > timedelta(days=7):
            return None
        return Answered(CLOSED, recorded=False)
    if score is None:
        survey.state = "skipped"  # only the next message counts
        return None
    if not 1 <= score <= 5:
        return Answered(OUT_OF_RANGE, recorded=False)  # still open: they may correct it
    recorded = await record(db, conversation_id=survey.conversation_id,
                            agent_id=survey.agent_id, channel=channel, score=score, now=now)  # fmt: skip
    survey.state = "answered"
    return Answered(THANKS if recorded else ALREADY, recorded=recorded)


def current_question() -> str:
    from kefu.quality.hooks import current

    return current().csat_question


class CsatCapture:
    """Self-service with the survey's answers taken first (see the module's docstring)."""

    def __init__(self, inner: SelfService) -> None:
        self.inner = inner

    async def handle(self, db: AsyncSession, turn: Turn) -> Reply:
        answered = await answer(
            db, channel=turn.channel, contact=turn.contact, text=turn.text, now=utcnow()
        )
        if answered is None:
            return await self.inner.handle(db, turn)
        return Reply([answered.text], intent="csat")

    async def identify(self, db: AsyncSession, *, kind: str, value: str, customer_no: str) -> bool:
        return await self.inner.identify(db, kind=kind, value=value, customer_no=customer_no)
