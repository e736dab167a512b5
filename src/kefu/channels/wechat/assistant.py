"""The assistant as the WeChat channel uses it: the same dialogs as SMS, with the facts a card
needs attached to the reply (the bill's month for the bill page link)."""

from __future__ import annotations

from kefu.assistant.engine import Assistant
from kefu.assistant.turns import Reply
from kefu.bank.models import CustomerProfile


class WechatAssistant(Assistant):
    async def _bill(self, profile: CustomerProfile, month: str, card_tail: str | None) -> Reply:
        reply = await super()._bill(profile, month, card_tail)
        reply.data = {**(reply.data or {}), "month": month}
        return reply
