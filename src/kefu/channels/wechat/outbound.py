"""Messages kefu sends through WeChat: answers that missed the passive reply, agents' replies
(custom-send, inside WeChat's 48-hour window) and notifications (template messages, honouring
the customer's subscriptions). Every send is a ``wechat_outbound`` row with WeChat's answer.

Outside the window WeChat refuses custom-send with 45015; the account's ``window_fallback``
decides what carries the message instead: its ``service_reply`` template, an SMS to the bound
customer's registered mobile, or nothing (recorded as failed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.wechat import render
from kefu.channels.wechat.api import Article, WechatApi, WechatApiError
from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.models import WechatFollower, WechatOutbound
from kefu.db.base import utcnow
from kefu.identity.binding import customer_for
from kefu.logs import get_logger
from kefu.messaging import relay
from kefu.messaging.contract import Notification
from kefu.messaging.directory import CustomerDirectory
from kefu.vocabulary import Channel, DeliveryState, IdentityKind

log = get_logger(__name__)

WECHAT = Channel.WECHAT.value
BATCH = 100
# Template kinds → the subscription service that must be on for the customer to get them.
TEMPLATE_SERVICES = {
    "bill_ready": "bill_ready",
    "repayment_reminder": "repayment_reminder",
    "card_transaction": "balance_alert",
}


class Outbound:
    def __init__(
        self,
        *,
        accounts: Mapping[str, WechatAccount],
        apis: Mapping[str, WechatApi],
        sessionmaker: async_sessionmaker[AsyncSession],
        directory: CustomerDirectory | None = None,
        sms: Any = None,  # kefu.channels.sms.gateway.SmsGateway, when SMS links are configured
    ) -> None:
        """``directory`` answers the customer questions the channel cannot (the mobile an
        answer falls back to, subscriptions); without one, no SMS fallback and no notices."""
        self.accounts = dict(accounts)
        self.apis = dict(apis)
        self.sessionmaker = sessionmaker
        self.directory = directory
        self.sms = sms
        self._relay: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Starts the relay of agents' replies (again, after a ``stop``)."""
        if self._relay is not None and not self._relay.done():
            return
        self._stopping = False
        self._relay = asyncio.create_task(self._relay_loop(), name="wechat-relay")

    async def stop(self) -> None:
        self._stopping = True
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
            self._relay = None

    async def _relay_loop(self) -> None:
        while not self._stopping:
            try:
                relayed = await self.relay_conversation_replies()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad batch
                log.exception("wechat_relay_failed")
                relayed = 0
            if not relayed:
                await asyncio.sleep(1.0)

    # ------------------------------------------------------------------ custom-send
    async def _record(self, **values: Any) -> WechatOutbound | None:
        """Stores the row before sending; None when its idempotency key was used already."""
        async with self.sessionmaker() as db:
            row = WechatOutbound(state=DeliveryState.ACCEPTED.value, **values)
            db.add(row)
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                return None
            return row

    async def _finish(
        self, row_id: int, *, ok: bool, error: WechatApiError | None = None, msgid: str = ""
    ) -> None:
        async with self.sessionmaker() as db:
            row = await db.get(WechatOutbound, row_id)
            assert row is not None
            row.state = DeliveryState.SENT.value if ok else DeliveryState.FAILED.value
            row.sent_at = utcnow() if ok else None
            row.wechat_msgid = msgid or None
            if error is not None:
                row.errcode, row.error = error.errcode, error.errmsg[:200]
            await db.commit()

    async def send_answer(
        self,
        account: WechatAccount,
        openid: str,
        answer: Mapping[str, Any],
        *,
        purpose: str,
        idempotency_key: str | None = None,
    ) -> bool:
        """Sends a rendered answer through custom-send (falling back outside the window);
        True when WeChat (or the fallback) accepted it."""
        row = await self._record(account=account.name, openid=openid, kind="custom",
                                 purpose=purpose, payload=dict(answer),
                                 idempotency_key=idempotency_key)  # fmt: skip
        if row is None:
            return True  # sent before under this key
        api = self.apis[account.name]
        try:
            if answer["type"] == "news":
                a = answer["articles"][0]
                await api.send_news(openid, Article(a["title"], a.get("description", ""),
                                                    a.get("url", ""), a.get("picurl", "")))  # fmt: skip
            elif answer["type"] == "msgmenu":
                await api.send_custom(openid, "msgmenu", {
                    k: answer[k] for k in ("head_content", "list", "tail_content")})  # fmt: skip
            else:
                await api.send_text(openid, answer["content"])
        except WechatApiError as exc:
            await self._finish(row.id, ok=False, error=exc)
            if exc.window_closed:
                return await self._fallback(account, openid, answer, row.id)
            log.warning("wechat_custom_send_failed", account=account.name, errcode=exc.errcode)
            return False
        await self._finish(row.id, ok=True)
        return True

    async def _fallback(
        self, account: WechatAccount, openid: str, answer: Mapping[str, Any], failed_id: int
    ) -> bool:
        text = _plain(answer)
        if account.window_fallback == "template" and "service_reply" in account.templates:
            return await self._template(
                account, openid, "service_reply", {"first": "您有一条客服回复", "keyword1": text[:200],
                                                   "remark": "点击查看详情"},
                url=_first_url(answer), purpose="fallback", fallback_of=failed_id,
            )  # fmt: skip
        if account.window_fallback == "sms":
            return await self._sms_fallback(account, openid, text, failed_id)
        return False

    async def _sms_fallback(
        self, account: WechatAccount, openid: str, text: str, failed_id: int
    ) -> bool:
        if self.sms is None or self.directory is None:
            return False
        async with self.sessionmaker() as db:
            customer = await customer_for(db, kind=IdentityKind.WECHAT_OPENID.value, value=openid)
            if customer is None:
                return False
            mobile = await self.directory.mobile(customer.bank_customer_no)
            if not mobile:
                return False
            sms = await self.sms.enqueue(db, to=mobile, text=text[:300], kind="reply",
                                         idempotency_key=f"wechat-fallback:{failed_id}")  # fmt: skip
            db.add(WechatOutbound(account=account.name, openid=openid, kind="sms",
                                  purpose="fallback", payload={"sms_id": sms.id},
                                  state=DeliveryState.ACCEPTED.value, fallback_of=failed_id))  # fmt: skip
            await db.commit()
        return True

    async def notify_other_channel(self, db: AsyncSession, note: Notification) -> None:
        """A message the assistant addresses elsewhere (a one-time code to the mobile)."""
        if note.channel == Channel.SMS.value and self.sms is not None:
            await self.sms.enqueue(db, to=note.to, text=note.text, kind="otp")

    # ------------------------------------------------------------------ agents' replies
    async def relay_conversation_replies(self) -> int:
        """Agents' replies in WeChat conversations go out through custom-send; the message
        follows the send's state (``external_id`` = ``wechat:<outbound id>``)."""
        async with self.sessionmaker() as db:
            rows = [
                (r.message_id, r.outbound, r.outbound.to)
                for r in await relay.pending_replies(db, WECHAT, BATCH)
            ]
            if not rows:  # the usual case (it runs after every commit): no empty IN query
                return 0
            followers = {
                f.openid: f.account
                for f in (
                    await db.scalars(
                        select(WechatFollower).where(
                            WechatFollower.openid.in_({contact for *_, contact in rows})
                        )
                    )
                ).all()
            }
        for message_id, out, openid in rows:
            account = self.accounts.get(followers.get(openid, ""))
            if account is None:
                await self._mirror(message_id, None, "the conversation has no WeChat follower")
                continue
            key = f"conversation-message:{message_id}"
            # Answers to tap (a CSAT survey) go as a menu message; anything else as text.
            answer = render.menu(out.choices) if out.choices else render.text(out.text)
            ok = await self.send_answer(account, openid, answer, purpose="agent_reply",
                                        idempotency_key=key)  # fmt: skip
            async with self.sessionmaker() as db:
                out_id = await db.scalar(
                    select(WechatOutbound.id).where(WechatOutbound.idempotency_key == key)
                )
            await self._mirror(message_id, out_id, None if ok else "WeChat refused the message")
        return len(rows)

    async def _mirror(self, message_id: int, out_id: int | None, error: str | None) -> None:
        async with self.sessionmaker() as db:
            await relay.mark_handed(
                db, message_id, external_id=f"wechat:{out_id}" if out_id else "wechat:-",
                state=DeliveryState.FAILED.value if error else DeliveryState.SENT.value,
                error=error,
            )  # fmt: skip
            await db.commit()

    # ------------------------------------------------------------------ notifications
    async def notify(
        self,
        account_name: str,
        *,
        customer_id: int,
        kind: str,
        data: Mapping[str, str],
        url: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[int]:
        """Sends a template notification (bill ready, repayment reminder, card transaction)
        to each of the customer's openids on the account, if the customer subscribed to it on
        WeChat; returns the outbound row ids (empty: not subscribed or not a follower)."""
        account = self.accounts[account_name]
        if kind not in TEMPLATE_SERVICES:
            raise ValueError(f"kind must be one of {sorted(TEMPLATE_SERVICES)}")
        async with self.sessionmaker() as db:
            if self.directory is None or not await self.directory.subscribed(
                db, customer_id=customer_id, service=TEMPLATE_SERVICES[kind], channel=WECHAT
            ):
                return []
            openids = await customer_openids(db, account_name, customer_id)
        ids = []
        for openid in openids:
            key = f"{idempotency_key}:{openid}" if idempotency_key else None
            await self._template(account, openid, kind, data, url=url, purpose=kind,
                                 idempotency_key=key)  # fmt: skip
            async with self.sessionmaker() as db:
                row_id = await db.scalar(
                    select(WechatOutbound.id)
                    .where(WechatOutbound.account == account_name, WechatOutbound.openid == openid,
                           WechatOutbound.kind == "template")
                    .order_by(WechatOutbound.id.desc()).limit(1)
                )  # fmt: skip
            if row_id is not None:
                ids.append(row_id)
        return ids

    async def notify_staff(
        self,
        account_name: str,
        openid: str,
        *,
        kind: str,
        data: Mapping[str, str],
        url: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """A template message to a member of staff who follows the bank's account (the crisis
        desk's alerts): no customer subscription applies; True when WeChat accepted it."""
        account = self.accounts.get(account_name)
        if account is None:
            return False
        return await self._template(account, openid, kind, data, url=url, purpose="staff_alert",
                                    idempotency_key=idempotency_key)  # fmt: skip

    async def notify_requested(
        self,
        account_name: str,
        openid: str,
        *,
        title: str,
        text: str,
        url: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """A notice the follower asked for on a page (a branch ticket's "tell me when 3
        ahead"), as the account's ``service_reply`` template: no subscription applies, they
        asked for this one. True when WeChat accepted it (or the key was sent already)."""
        account = self.accounts.get(account_name)
        if account is None:
            return False
        return await self._template(account, openid, "service_reply",
                                    {"first": title, "keyword1": text[:200], "remark": ""},
                                    url=url, purpose="requested_notice",
                                    idempotency_key=idempotency_key)  # fmt: skip

    async def notify_marketing(
        self,
        account_name: str,
        openid: str,
        *,
        data: Mapping[str, str],
        url: str | None = None,
        idempotency_key: str,
    ) -> tuple[bool, str | None]:
        """A campaign's message as the account's ``marketing`` template (the campaign checked
        opt-out, consent, caps and quiet hours). Once per idempotency key: a key sent already
        answers (True, None) and sends nothing. (False, "errcode: errmsg") when WeChat refused
        it (43004: the follower unsubscribed; 40001: the token, after one refetch)."""
        account = self.accounts.get(account_name)
        if account is None:
            return False, f"no WeChat account {account_name}"
        if await self._template(account, openid, "marketing", data, url=url, purpose="marketing",
                                idempotency_key=idempotency_key):  # fmt: skip
            return True, None
        async with self.sessionmaker() as db:
            row = await db.scalar(select(WechatOutbound).where(
                WechatOutbound.idempotency_key == idempotency_key))  # fmt: skip
        if row is None or row.errcode is None:
            return False, "not sent"
        return False, f"{row.errcode}: {row.error or ''}"[:200]

    async def _template(
        self,
        account: WechatAccount,
        openid: str,
        kind: str,
        data: Mapping[str, str],
        *,
        url: str | None,
        purpose: str,
        fallback_of: int | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        template_id = account.templates.get(kind)
        payload = {"template": kind, "template_id": template_id, "data": dict(data), "url": url}
        row = await self._record(account=account.name, openid=openid, kind="template",
                                 purpose=purpose, payload=payload, fallback_of=fallback_of,
                                 idempotency_key=idempotency_key)  # fmt: skip
        if row is None:
            return True
        if template_id is None:
            await self._finish(row.id, ok=False,
                               error=WechatApiError(40037, f"no template configured for {kind}"))  # fmt: skip
            return False
        try:
            msgid = await self.apis[account.name].send_template(openid, template_id, data, url)
        except WechatApiError as exc:
            await self._finish(row.id, ok=False, error=exc)
            return False
        await self._finish(row.id, ok=True, msgid=msgid)
        return True


async def customer_openids(db: AsyncSession, account: str, customer_id: int) -> list[str]:
    """The customer's bound openids that follow ``account`` (openids are per account)."""
    from kefu.identity.models import ChannelIdentity

    rows = await db.scalars(
        select(ChannelIdentity.value)
        .join(WechatFollower, WechatFollower.openid == ChannelIdentity.value)
        .where(
            ChannelIdentity.kind == IdentityKind.WECHAT_OPENID.value,
            ChannelIdentity.customer_id == customer_id,
            WechatFollower.account == account,
            WechatFollower.subscribed.is_(True),
        )
    )
    return list(rows.all())


def _plain(answer: Mapping[str, Any]) -> str:
    if answer.get("type") == "msgmenu":  # outside the window: the items as words to type
        items = "，".join(f"{i['id']}={i['content']}" for i in answer["list"])
        return f"{answer['head_content']}（请回复：{items}）"
    if answer.get("type") == "news":
        a = answer["articles"][0]
        return f"{a['title']}：{a.get('description', '')}"
    return str(answer.get("content", ""))


def _first_url(answer: Mapping[str, Any]) -> str | None:
    if answer.get("type") == "news":
        return answer["articles"][0].get("url") or None
    return None
