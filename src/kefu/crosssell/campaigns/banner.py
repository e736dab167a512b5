"""Web chat banner campaigns: whether a signed-in visitor who opens the chat widget is shown a
running campaign's offer, and what their click or dismissal records.

Web chat asks through its port (``kefu.channels.webchat.offers.OfferSource``); the app offers
``Banners`` there (``kefu.runtime``), so the channel never runs this logic itself.

Shown to a customer only when all hold:
- a web chat campaign is ``running`` and the customer is a member of its **treated** arm whose
  start left them ``eligible`` (the outbound rules at start: TD opt-out, recorded consent; a
  hold-out member is never shown anything), and they have not dismissed it (不感兴趣) or
  clicked it already;
- today, the governed outbound's per-recipient rules still allow marketing to them: the number
  has not replied TD since the start and the marketing consent still stands
  (``kefu.outbound.policy.decide``, the rules the SMS and WeChat campaigns apply);
- the marketing caps (``sms_policy.caps.marketing``, per day and per 7 days), counted on the
  customer's banner showings as a WeChat campaign counts its messages
  (``policy.capped``/``cap_refusal``).

Once per visit: a showing is a ``crosssell_banner_impressions`` row, one per campaign and web
chat session (the unique key); a reload of the same visit gets the same banner back without a
second impression. Two widget loads at once: the customer's eligible member rows are locked
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer) before the caps are counted, so
two visits cannot both take the customer's last slot, and the unique key keeps one impression
per visit.

Quiet hours do not apply: the banner is shown only inside a chat the customer opened.

A click of interest (我感兴趣) is a lead, as an SMS reply of interest is (``replies.py``): the
first click — a conditional update of the member, so two clicks at once make one — asks web
chat to hand the visitor to an agent (the ``hand_off`` web chat passes: the session's own
hand-off, in this transaction), routed by the product's kind (``LEAD_INTENTS``: a deposit, a
wealth product or a fund goes where routing sends those, else the default queue), with a
system note for the agent naming the campaign; the ``interested`` outcome is recorded against
that conversation, so the agent's next-best-offer panel puts the product first."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.conversations.models import Conversation, Message
from kefu.crosssell import service as offers
from kefu.crosssell.campaigns import arms
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.models import BannerImpression, Campaign, CampaignMember
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.outbound import policy as rules
from kefu.outbound.consent import consenting
from kefu.outbound.models import OptOut
from kefu.outbound.settings import SmsPolicySettings
from kefu.vocabulary import DeliveryState, Direction, SenderType

log = get_logger(__name__)

CHANNEL = "webchat"
KIND = "marketing"
SHOWABLE = ("eligible", "shown")  # a member's states in which the banner may be shown
Action = Literal["click", "dismiss"]
LEAD_INTENT = "crosssell_lead"  # routing's intent for a lead of any other product (as for SMS)
# The routing intent of a lead by the product code's family: the workflow's rules send these
# to the deposit and wealth desk (default_workflow.yaml, rule "wealth"); any other product
# goes to the default queue. Product codes are the catalogue's (catalogue.TERMS).
LEAD_INTENTS = {"DEP": "deposit", "CD": "deposit", "WM": "wealth", "FUND": "fund"}
ADVISED = frozenset({"deposit", "wealth", "fund"})  # products a 理财顾问 follows up


@dataclass(frozen=True)
class Lead:
    """A click of interest, for web chat's hand-off (its ``Lead`` port)."""

    text: str
    subject: str
    reply: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


HandOff = Callable[[AsyncSession, Lead], Awaitable[int]]


@dataclass(frozen=True)
class Offer:
    """What web chat shows (its ``Offer`` port): the campaign, its text and disclosure."""

    id: str
    text: str
    disclosure: str


class Banners:
    """The app's answer to web chat's ``OfferSource``: each call in a transaction of its own."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: SmsPolicySettings | Callable[[], SmsPolicySettings],
    ) -> None:
        self.sessionmaker = sessionmaker
        self._policy = policy

    @property
    def policy(self) -> SmsPolicySettings:
        return self._policy() if callable(self._policy) else self._policy

    async def offer(self, customer_no: str, visit: str) -> Offer | None:
        async with self.sessionmaker() as db:
            shown = await show(db, customer_no, visit, self.policy)
            await db.commit()
            return shown

    async def answer(
        self,
        customer_no: str,
        visit: str,
        offer_id: str,
        action: Action,
        hand_off: HandOff | None = None,
    ) -> bool:
        async with self.sessionmaker() as db:
            done = await respond(db, customer_no, visit, offer_id, action, hand_off=hand_off)
            await db.commit()
            return done


def _offer(campaign: Campaign) -> Offer:
    terms = TERMS.get(campaign.product_code)
    return Offer(id=str(campaign.id), text=campaign.content or "",
                 disclosure=terms.disclosure if terms is not None else "")  # fmt: skip


async def show(
    db: AsyncSession,
    customer_no: str,
    visit: str,
    policy: SmsPolicySettings,
    *,
    now: datetime | None = None,
) -> Offer | None:
    """The banner for this visit (recorded as an impression), or None; the caller commits."""
    now = now or utcnow()
    # Lock the customer's showable members first (in id order: two loads take them in the same
    # order): a second load of any visit waits here until the first has counted and recorded.
    members = (await db.scalars(
        select(CampaignMember)
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(CampaignMember.customer_no == customer_no, CampaignMember.arm == arms.TREATED,
               CampaignMember.state.in_(SHOWABLE), Campaign.channel == CHANNEL,
               Campaign.status == "running")
        .order_by(CampaignMember.id)
        .with_for_update(of=CampaignMember)
    )).all()  # fmt: skip
    if not members:
        return None
    by_campaign = {m.campaign_id: m for m in members}
    already = await db.scalar(
        select(BannerImpression.campaign_id)
        .where(BannerImpression.visit == visit, BannerImpression.customer_no == customer_no,
               BannerImpression.campaign_id.in_(list(by_campaign)))
        .order_by(BannerImpression.id).limit(1)
    )  # fmt: skip
    if already is not None:  # this visit's banner again (a reload): no second impression
        campaign = await db.get(Campaign, already)
        return _offer(campaign) if campaign is not None else None
    phone = members[0].phone
    if not phone or await _refused(db, phone, policy):
        return None
    caps = rules.capped(policy, KIND)
    if caps is not None:
        day, week = await _shown_counts(db, customer_no, now, policy.timezone)
        refusal = rules.cap_refusal(caps, KIND, day, week)
        if refusal is not None:
            log.info("banner_capped", rule=refusal.rule)
            return None
    campaigns = {c.id: c for c in (await db.scalars(
        select(Campaign).where(Campaign.id.in_(list(by_campaign))))).all()}  # fmt: skip
    member = min(members, key=lambda m: (campaigns[m.campaign_id].started_at or now, m.id))
    campaign = campaigns[member.campaign_id]
    try:
        async with db.begin_nested():
            db.add(BannerImpression(campaign_id=campaign.id, member_id=member.id,
                                    customer_no=customer_no, visit=visit, shown_at=now))  # fmt: skip
    except IntegrityError:  # the same visit's other load recorded it (SQLite without the lock)
        return _offer(campaign)
    if member.shown_at is None:
        member.shown_at, member.address = now, visit  # the first visit it was shown in
    member.state = "shown"
    return _offer(campaign)


async def _refused(db: AsyncSession, phone: str, policy: SmsPolicySettings) -> bool:
    """TD since the start, or the marketing consent withdrawn: the per-recipient rules the
    governed outbound applies to marketing (its caps are the banner's own, below; no quiet
    hours inside a chat the customer opened)."""
    if KIND in policy.opt_out_kinds and await db.scalar(
        select(OptOut.id).where(OptOut.kind == "phone", OptOut.value == phone)
    ):
        return True
    return KIND in policy.consent_kinds and not await consenting(db, [phone], KIND)


async def _shown_counts(
    db: AsyncSession, customer_no: str, now: datetime, timezone: str
) -> tuple[int, int]:
    """The customer's banner showings today (local day) and in the last 7 days."""
    today = rules.day_start(now, timezone)
    week = now - timedelta(days=7)
    row = (await db.execute(
        select(func.sum(case((BannerImpression.shown_at >= today, 1), else_=0)),
               func.count(BannerImpression.id))
        .where(BannerImpression.customer_no == customer_no,
               BannerImpression.shown_at >= min(today, week))
    )).one()  # fmt: skip
    return int(row[0] or 0), int(row[1] or 0)


async def respond(
    db: AsyncSession,
    customer_no: str,
    visit: str,
    offer_id: str,
    action: Action,
    *,
    now: datetime | None = None,
    hand_off: HandOff | None = None,
) -> bool:
    """A click (interest: an ``interested`` outcome, once however often clicked) or a
    dismissal (不感兴趣: a ``declined`` outcome, and the campaign never shows it again) of the
    banner shown in this visit. False when it was not shown in this visit. The first click
    also runs ``hand_off`` (web chat's hand-off to an agent) with the lead, and notes the
    campaign in the conversation for the agent; without it (the demo's simulated visits) the
    interest is recorded alone."""
    if not offer_id.isdigit():
        return False
    now = now or utcnow()
    impression = await db.scalar(select(BannerImpression).where(
        BannerImpression.campaign_id == int(offer_id), BannerImpression.visit == visit,
        BannerImpression.customer_no == customer_no))  # fmt: skip
    if impression is None:
        return False
    campaign = await db.get(Campaign, impression.campaign_id)
    assert campaign is not None
    column = BannerImpression.clicked_at if action == "click" else BannerImpression.dismissed_at
    await db.execute(update(BannerImpression)
                     .where(BannerImpression.id == impression.id, column.is_(None))
                     .values({column.key: now}).execution_options(synchronize_session=False))  # fmt: skip
    if action == "click":
        # The first click only (a conditional update: two clicks at once, one wins).
        first = await db.execute(
            update(CampaignMember)
            .where(
                CampaignMember.id == impression.member_id,
                CampaignMember.clicked_at.is_(None),
                CampaignMember.state != "declined",
            )  # 不感兴趣 was the last word
            .values(clicked_at=now, state="clicked", reply="interested", replied_at=now)
            .execution_options(synchronize_session=False)
        )
        outcome = "interested"
    else:
        first = await db.execute(
            update(CampaignMember)
            .where(CampaignMember.id == impression.member_id,
                   CampaignMember.state != "declined")
            .values(state="declined", reply="declined", replied_at=now)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        outcome = "declined"
    if first.rowcount == 1:  # type: ignore[attr-defined]
        conversation_id = None
        if outcome == "interested" and hand_off is not None:
            conversation_id = await hand_off(db, lead(campaign))
            await _note(db, conversation_id, campaign)
        await offers.record_outcome(db, customer_no=customer_no,
                                    product_code=campaign.product_code, outcome=outcome,
                                    conversation_id=conversation_id, agent_id=None, now=now)  # fmt: skip
    return True


def lead_intent(product_code: str) -> str | None:
    family = re.match(r"[A-Z]+", product_code)  # DEP1Y → DEP, WM-R2 → WM
    return LEAD_INTENTS.get(family.group(0)) if family else None


def lead(campaign: Campaign) -> Lead:
    """What the click asks an agent to follow up: routed by the product's kind."""
    intent = lead_intent(campaign.product_code)
    who = "理财顾问" if intent in ADVISED else "人工客服"
    return Lead(
        text=f"我对横幅活动「{campaign.name}」感兴趣（点击了“我感兴趣”）",
        subject=f"网页横幅「{campaign.name}」客户点击感兴趣：{campaign.product_code}",
        reply=f"已为您转接{who}，将在这里为您详细介绍。",
        attributes={"intent": intent or LEAD_INTENT, "campaign_id": campaign.id,
                    "product_code": campaign.product_code},
    )  # fmt: skip


def note_text(campaign: Campaign) -> str:
    return f"客户对横幅活动「{campaign.name}」感兴趣（产品 {campaign.product_code}），请跟进"


async def _note(db: AsyncSession, conversation_id: int, campaign: Campaign) -> None:
    """The note the agent reads in the conversation: inbound and ``system`` (never relayed to
    the customer; the agents' desk escapes it like every message)."""
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        return
    db.add(Message(conversation_id=conversation_id, channel=conversation.channel,
                   direction=Direction.INBOUND.value, sender_type=SenderType.SYSTEM.value,
                   body=note_text(campaign), delivery_state=DeliveryState.RECEIVED.value))  # fmt: skip
    await db.flush()
