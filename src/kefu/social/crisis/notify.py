"""Alerts to supervisors: an SMS through the SMS channel's outbox and a WeChat template
message through the WeChat channel's sender, to the on-duty list (level 0) or the escalation
list (level 1) of ``KEFU_CRISIS``. The desk itself (and the badge in the navigation) is the
in-app delivery: it reads the alerts table.

The channels' services are passed in (``kefu.runtime`` hands every worker what the channels
offer), so nothing here imports a channel. Each notice is a ``crisis_notices`` row, unique per
(alert, level, channel, address), and the SMS is queued in the same transaction as the alert:
a retried run neither loses nor repeats one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.db.engine import dialect_insert
from kefu.logs import get_logger
from kefu.privacy import mask_text
from kefu.social.crisis.models import CrisisAlert, CrisisNotice
from kefu.social.crisis.settings import Contact, CrisisSettings
from kefu.web.i18n import N_

log = get_logger(__name__)

# Why a notice did not go (stored in English, shown through the catalogue).
NO_SMS = N_("no SMS link configured")
NO_WECHAT = N_("no WeChat account set")
REFUSED = N_("WeChat refused the template message")


class SmsOutbox(Protocol):
    """What the SMS channel's gateway offers (kefu.channels.sms.gateway.SmsGateway.enqueue)."""

    async def enqueue(self, db: AsyncSession, **message: Any) -> Any: ...


class WechatSender(Protocol):
    """What the WeChat channel's sender offers (kefu.channels.wechat.outbound.Outbound)."""

    async def notify_staff(
        self, account_name: str, openid: str, *, kind: str, data: Mapping[str, str],
        url: str | None = None, idempotency_key: str | None = None,
    ) -> bool: ...  # fmt: skip


def alert_text(alert: CrisisAlert, settings: CrisisSettings) -> str:
    """The SMS. The term comes from customers' posts: masked and cut short, so a post cannot
    put a phone number or a long text of its own into staff's SMS."""
    term = mask_text(alert.term)[:20]
    text = (
        f"【舆情预警】话题「{term}」负面爆发：{alert.volume}条，负面占比{alert.negativity:.0%}，"
        f"影响力{alert.reach:.0f}。请在{settings.ack_minutes:g}分钟内到危机处置台确认。"
    )
    return text + (f" {settings.desk_url}" if settings.desk_url else "")


class Notifier:
    def __init__(
        self, settings: CrisisSettings, *, sms: SmsOutbox | None = None,
        wechat: WechatSender | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.sms = sms
        self.wechat = wechat

    def contacts(self, level: int) -> list[Contact]:
        return self.settings.on_duty if level == 0 else self.settings.escalation

    async def queue(self, db: AsyncSession, alert: CrisisAlert, level: int) -> int:
        """Queues the SMS and records the WeChat notices of ``alert`` at ``level`` in the
        caller's transaction; returns how many notices were recorded."""
        text = alert_text(alert, self.settings)
        rows: list[dict[str, Any]] = []
        for contact in self.contacts(level):
            if contact.mobile:
                state, detail = "skipped", NO_SMS
                if self.sms is not None:
                    await self.sms.enqueue(
                        db, to=contact.mobile, text=text, kind="notification",
                        idempotency_key=f"crisis:{alert.id}:{level}:{contact.mobile}",
                    )  # fmt: skip
                    state, detail = "queued", ""
                rows.append(_notice(alert, level, "sms", contact, contact.mobile, state, detail))
            if contact.openid:
                ready = self.wechat is not None and self.settings.wechat_account
                state, detail = ("pending", "") if ready else ("skipped", NO_WECHAT)
                rows.append(_notice(alert, level, "wechat", contact, contact.openid, state, detail))
        if rows:
            await db.execute(dialect_insert(db, CrisisNotice).values(rows).on_conflict_do_nothing())
        return len(rows)

    async def deliver(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """Sends the pending WeChat notices (after the alert's transaction committed: WeChat
        is a network call); returns how many WeChat accepted."""
        if self.wechat is None or not self.settings.wechat_account:
            return 0
        async with sessionmaker() as db:
            pending = (
                await db.execute(
                    select(CrisisNotice, CrisisAlert)
                    .join(CrisisAlert, CrisisAlert.id == CrisisNotice.alert_id)
                    .where(CrisisNotice.channel == "wechat", CrisisNotice.state == "pending")
                    .order_by(CrisisNotice.id)
                    .limit(100)
                )
            ).all()
        accepted = 0
        for notice, alert in pending:
            data = {
                "first": "舆情预警",
                "keyword1": mask_text(alert.term)[:20],
                "keyword2": f"{alert.volume}条，负面占比{alert.negativity:.0%}",
                "remark": "请到危机处置台确认",
            }
            try:
                ok = await self.wechat.notify_staff(
                    self.settings.wechat_account, notice.address, kind=self.settings.wechat_template,
                    data=data, url=self.settings.desk_url or None,
                    idempotency_key=f"crisis-notice:{notice.id}",
                )  # fmt: skip
            except Exception:  # noqa: BLE001 - one refused notice must not stop the others
                log.exception("crisis_wechat_notice_failed", notice=notice.id)
                ok = False
            async with sessionmaker() as db:
                row = await db.get(CrisisNotice, notice.id)
                if row is not None:
                    row.state = "sent" if ok else "failed"
                    row.detail = "" if ok else REFUSED
                    await db.commit()
            accepted += ok
        return accepted


def _notice(alert: CrisisAlert, level: int, channel: str, contact: Contact, address: str,
            state: str, detail: str) -> dict[str, Any]:  # fmt: skip
    return {"alert_id": alert.id, "level": level, "channel": channel, "recipient": contact.name,
            "address": address, "state": state, "detail": detail}  # fmt: skip
