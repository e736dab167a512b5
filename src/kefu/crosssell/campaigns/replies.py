"""Replies on a campaign's SMS sub-code (service number + the campaign's sub-code): a route of
the message pipeline (kefu.messaging.routes), registered at the composition root.

- "1" / "是" (and a few plain yeses) mark interest: the member's reply, an ``interested``
  outcome for the product (once per campaign), and a conversation queued for an agent with
  the campaign in its subject — the lead;
- TD and the other opt-out words are recorded on the member and left to the hall, which
  honours them for every sub-code (the bank's opt-out list);
- anything else is recorded and left to the pipeline (self-service answers it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.crosssell import service as offers
from kefu.crosssell.models import Campaign, CampaignMember
from kefu.db.base import utcnow
from kefu.language.intents import match_code
from kefu.language.normalize import normalize
from kefu.messaging.contract import InboundMessage
from kefu.messaging.routes import Routed
from kefu.routing import intake

ROUTE = "campaign"
YES = frozenset({"1", "是", "是的", "要", "好", "好的", "有兴趣", "感兴趣", "y", "yes"})
LEAD_INTENT = "crosssell_lead"


def reply_kind(text: str) -> str:
    clean = normalize(text).strip().strip("。.!！ ").lower()
    if match_code(normalize(text)) == "unsubscribe":
        return "opted_out"
    return "interested" if clean in YES else "other"


async def to_campaign(db: AsyncSession, message: InboundMessage) -> Routed | None:
    sub_code = str(message.metadata.get("sub_code") or "")
    if not sub_code:
        return None
    campaign = await db.scalar(select(Campaign).where(
        Campaign.sub_code == sub_code, Campaign.status.in_(("running", "finished"))))  # fmt: skip
    if campaign is None:
        return None
    member = await db.scalar(select(CampaignMember).where(
        CampaignMember.campaign_id == campaign.id, CampaignMember.phone == message.sender))  # fmt: skip
    if member is None:
        return None  # not someone this campaign texted: the hall answers as usual
    kind = reply_kind(message.text)
    first = member.reply is None or (kind == "interested" and member.reply != "interested")
    if member.reply != "opted_out":  # an opt-out is the last word
        member.reply, member.replied_at = kind, utcnow()
    if kind != "interested":
        return None  # TD: the hall records the opt-out; other text: self-service
    if not first or member.conversation_id is not None:
        return Routed(ROUTE, {"campaign": campaign.id, "reply": kind, "repeat": True})
    await offers.record_outcome(db, customer_no=member.customer_no,
                                product_code=campaign.product_code, outcome="interested",
                                conversation_id=None, agent_id=None)  # fmt: skip
    conversation, _task = await intake.open_conversation(
        db, channel=message.channel, contact=message.sender, text=message.text, now=utcnow(),
        subject=f"营销活动「{campaign.name}」客户回复有意向：{campaign.product_code}", intent=LEAD_INTENT,
        customer_no=member.customer_no,
        attributes={"campaign_id": campaign.id, "product_code": campaign.product_code},
        actor=f"campaign:{campaign.id}",
    )  # fmt: skip
    member.conversation_id = conversation.id
    return Routed(ROUTE, {"campaign": campaign.id, "reply": kind,
                          "conversation_id": conversation.id})  # fmt: skip
