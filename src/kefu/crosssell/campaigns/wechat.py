"""WeChat template campaigns: who can be reached (a bound openid), the WeChat opt-out and caps
at start, and the sender that hands each queued member to the WeChat channel exactly once.

Crosssell never calls WeChat: the channel's outbound (``app.state.wechat_runtime.outbound``,
``services["wechat_outbound"]``) is reached through the ``WechatSender`` protocol below and
sends the account's ``marketing`` template, recording every send and WeChat's answer.

Exactly once: start writes each reachable treated member as ``queued``; a sender claims a
member with ``UPDATE … SET state = 'sending' WHERE state = 'queued'`` committed before it calls
WeChat, so two senders at once (two workers, a click and the scheduler) never both send it —
on PostgreSQL the second waits for the first's row lock and then updates no row. The channel's
idempotency key (``campaign:<id>:<customer>``) guards a retried send as well."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.crosssell.models import Campaign, CampaignMember
from kefu.db.base import utcnow
from kefu.identity.models import ChannelIdentity, Customer
from kefu.logs import get_logger
from kefu.outbound import policy as rules
from kefu.outbound.models import OptOut
from kefu.outbound.settings import SmsPolicySettings
from kefu.vocabulary import IdentityKind

log = get_logger(__name__)

TEMPLATE_KIND = "marketing"  # the account's template kind a campaign sends
OPENID = IdentityKind.WECHAT_OPENID.value
COUNTED = ("queued", "sending", "sent")  # what takes a slot of the customer's caps
BATCH = 200
# A member claimed longer ago than this and still ``sending`` was left by a sender that died
# between its claim and WeChat's answer: claimed again (the channel's idempotency key makes a
# send that did go out answer "sent already" instead of sending twice).
ABANDONED = timedelta(minutes=10)


class WechatSender(Protocol):
    """The WeChat channel's outbound, as crosssell sees it."""

    accounts: Mapping[str, Any]

    async def notify_marketing(
        self, account_name: str, openid: str, *, data: Mapping[str, str],
        url: str | None = None, idempotency_key: str,
    ) -> tuple[bool, str | None]: ...  # fmt: skip


def account_for(sender: WechatSender | None) -> tuple[str | None, str | None]:
    """(account name, None) or (None, why a WeChat campaign cannot start)."""
    if sender is None or not sender.accounts:
        return None, "没有配置微信公众号（KEFU_WECHAT_ACCOUNTS），无法发送微信模板消息"
    name, account = next(iter(sender.accounts.items()))
    if TEMPLATE_KIND not in getattr(account, "templates", {}):
        return None, f"公众号 {name} 没有配置营销模板（templates.{TEMPLATE_KIND}），无法发送"
    return name, None


async def openids(db: AsyncSession, customer_nos: Sequence[str]) -> dict[str, str]:
    """Customer number → the first openid bound to them (identity's bindings)."""
    found: dict[str, str] = {}
    for start in range(0, len(customer_nos), 500):
        rows = await db.execute(
            select(Customer.bank_customer_no, ChannelIdentity.value)
            .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
            .where(ChannelIdentity.kind == OPENID,
                   Customer.bank_customer_no.in_(customer_nos[start : start + 500]))
            .order_by(ChannelIdentity.id)
        )  # fmt: skip
        for customer_no, openid in rows.all():
            found.setdefault(customer_no, openid)
    return found


async def refusals(
    db: AsyncSession, reachable: Mapping[str, str], policy: SmsPolicySettings, now: datetime
) -> dict[str, str]:
    """Customer number → why not to send: the follower replied TD in WeChat (the assistant
    stores it as an opt-out of the openid), or the customer's WeChat campaign messages today or
    in 7 days reached the marketing caps. Counted under the send API's lock (the caller's)."""
    refused: dict[str, str] = {}
    opted = set(
        await db.scalars(
            select(OptOut.value).where(OptOut.kind == OPENID,
                                       OptOut.value.in_(list(reachable.values())))
        )
    )  # fmt: skip
    for customer_no, openid in reachable.items():
        if openid in opted:
            refused[customer_no] = "opt_out: 客户在微信中回复退订"
    caps = rules.capped(policy, "marketing")
    if caps is None:
        return refused
    today = rules.day_start(now, policy.timezone)
    week = now - timedelta(days=7)
    rows = await db.execute(
        select(CampaignMember.customer_no,
               func.sum(case((Campaign.started_at >= today, 1), else_=0)),
               func.count())
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(Campaign.channel == "wechat", CampaignMember.state.in_(COUNTED),
               CampaignMember.customer_no.in_(list(reachable)),
               Campaign.started_at >= min(today, week))
        .group_by(CampaignMember.customer_no)
    )  # fmt: skip
    for customer_no, day, total in rows.all():
        refusal = rules.cap_refusal(caps, "marketing", int(day or 0), int(total))
        if refusal is not None and customer_no not in refused:
            refused[customer_no] = f"{refusal.rule}: {refusal.reason}"[:200]
    return refused


def message(content: str, hint: str) -> dict[str, str]:
    """The marketing template's fields: the approved text and how to opt out."""
    return {"first": content, "remark": f"{hint}（回复TD退订）" if hint else "回复TD退订"}


async def send_queued(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: WechatSender | None,
    policy: SmsPolicySettings,
    *,
    campaign_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Sends every queued member of running WeChat campaigns (or of one); returns counts by
    result. Nothing in quiet hours: the members stay queued for the next run."""
    counts = {"sent": 0, "failed": 0}
    now = now or utcnow()
    if sender is None or rules.quiet_hours_refusal("marketing", policy, now):
        return counts
    open_ = or_(CampaignMember.state == "queued",
                and_(CampaignMember.state == "sending", CampaignMember.sent_at < now - ABANDONED))  # fmt: skip
    while True:
        async with sessionmaker() as db:
            query = (
                select(CampaignMember.id, CampaignMember.campaign_id, CampaignMember.customer_no,
                       CampaignMember.address, Campaign.content)
                .join(Campaign, Campaign.id == CampaignMember.campaign_id)
                .where(Campaign.channel == "wechat", Campaign.status == "running", open_)
                .order_by(CampaignMember.id).limit(BATCH)
            )  # fmt: skip
            if campaign_id is not None:
                query = query.where(Campaign.id == campaign_id)
            batch = (await db.execute(query)).all()
        if not batch:
            return counts
        for member_id, cid, customer_no, address, content in batch:
            if not await _claim(sessionmaker, member_id, open_):
                continue  # another sender has it
            account, _, openid = (address or "").partition(":")
            ok, error = await sender.notify_marketing(
                account, openid, data=message(content or "", policy.opt_out_hint),
                idempotency_key=f"campaign:{cid}:{customer_no}",
            )  # fmt: skip
            async with sessionmaker() as db:
                await db.execute(update(CampaignMember).where(CampaignMember.id == member_id)
                                 .values(state="sent" if ok else "failed",
                                         refusal=None if ok else (error or "")[:200],
                                         sent_at=utcnow()))  # fmt: skip
                await db.commit()
            counts["sent" if ok else "failed"] += 1
            if not ok:
                log.info("campaign_wechat_failed", campaign=cid, error=error)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], member_id: int, open_: Any
) -> bool:
    async with sessionmaker() as db:
        claimed = await db.execute(
            update(CampaignMember)
            .where(CampaignMember.id == member_id, open_)
            .values(state="sending", sent_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await db.commit()
        return claimed.rowcount == 1  # type: ignore[attr-defined]
