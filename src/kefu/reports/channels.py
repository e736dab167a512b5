"""The channel pages' figures over a short period (at most 92 days), read from each
channel's own tables — not from the KPI rollup: delivery per carrier link and the SMS cost,
WeChat followers and sends, web chat sessions, social posts per platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.sms.models import SmsMessage
from kefu.channels.webchat.models import WebchatSession
from kefu.channels.wechat.models import WechatFollower, WechatOutbound
from kefu.reports.settings import ReportsSettings
from kefu.social.models import SocialPost
from kefu.vocabulary import DeliveryState

MAX_DAYS = 92


async def sms_links(
    session: AsyncSession, start: datetime, end: datetime, settings: ReportsSettings
) -> list[dict[str, object]]:
    """Per carrier link: outbound messages, parts, delivered, failed, delivery rate (of
    those with a final report) and cost (parts × the configured SMS price)."""
    delivered = func.sum(case((SmsMessage.state == DeliveryState.DELIVERED.value, 1), else_=0))
    failed = func.sum(case((SmsMessage.state == DeliveryState.FAILED.value, 1), else_=0))
    rows = await session.execute(
        select(func.coalesce(SmsMessage.link, ""), func.count(), func.sum(SmsMessage.parts),
               delivered, failed)
        .where(SmsMessage.direction == "out", SmsMessage.created_at >= start,
               SmsMessage.created_at < end)
        .group_by(SmsMessage.link)
        .order_by(SmsMessage.link)
    )  # fmt: skip
    price = settings.message_cost.get("sms", 0.0)
    out = []
    for link, n, parts, ok, bad in rows:
        final = int(ok or 0) + int(bad or 0)
        out.append({"link": link or "—", "messages": n, "parts": int(parts or 0),
                    "delivered": int(ok or 0), "failed": int(bad or 0),
                    "delivery_rate": round(int(ok or 0) / final * 100, 1) if final else None,
                    "cost": round(int(parts or 0) * price, 2)})  # fmt: skip
    return out


async def wechat(session: AsyncSession, start: datetime, end: datetime) -> dict[str, object]:
    followers = await session.execute(
        select(WechatFollower.account, func.count())
        .where(WechatFollower.subscribed.is_(True))
        .group_by(WechatFollower.account)
    )
    sends = await session.execute(
        select(WechatOutbound.kind, WechatOutbound.state, func.count())
        .where(WechatOutbound.created_at >= start, WechatOutbound.created_at < end)
        .group_by(WechatOutbound.kind, WechatOutbound.state)
    )
    return {"followers": dict(followers.all()),
            "sends": [{"kind": k, "state": s, "count": n} for k, s, n in sends]}  # fmt: skip


async def webchat(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(WebchatSession.site, func.count())
        .where(WebchatSession.created_at >= start, WebchatSession.created_at < end)
        .group_by(WebchatSession.site)
    )
    return dict(rows.all())


async def social(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(SocialPost.platform, func.count())
        .where(SocialPost.received_at >= start, SocialPost.received_at < end)
        .group_by(SocialPost.platform)
    )
    return dict(rows.all())
