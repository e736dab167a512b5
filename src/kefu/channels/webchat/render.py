"""The pipeline's outcome as web chat messages: text, a card where the answer is about the
customer's bill or accounts, quick replies where the customer may not know what to ask."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kefu.messaging.contract import Reply

if TYPE_CHECKING:  # the manifest imports this module, and the settings import the manifest
    from kefu.messaging.pipeline import Outcome

HELP = (
    "您好，我是在线客服。可以直接问我，例如“我要查3月的账单”“信用卡额度多少”“附近网点排队”；"
    "需要人工服务请发“转人工”。"
)
NOT_UNDERSTOOD = "抱歉，我没有理解您的意思。" + HELP
SIGN_IN_FIRST = "查询账户信息需要先登录网上银行，登录后在页面右下角打开在线客服即可。"
QUICK_REPLIES = ["我要查本月账单", "查余额", "附近网点排队", "转人工"]
_ACCOUNT_INTENTS = frozenset(
    {"balance.query", "transactions.query", "repayment.query", "points.query",
     "credit_limit.query"}
)  # fmt: skip
_CARD_TITLES = {
    "balance.query": "账户余额", "transactions.query": "最近交易", "repayment.query": "还款提醒",
    "points.query": "信用卡积分", "credit_limit.query": "信用卡额度",
}  # fmt: skip


@dataclass
class Rendered:
    text: str
    card: dict[str, Any] | None = None
    quick_replies: list[str] = field(default_factory=list)


def greeting(site_greeting: str) -> Rendered:
    return Rendered(site_greeting or HELP, quick_replies=list(QUICK_REPLIES))


def outcome(result: Outcome) -> Rendered | None:
    """None: nothing to say (an agent owns the conversation)."""
    if result.reply is not None and not result.reply.understood and result.text is not None:
        return Rendered(result.text, quick_replies=list(QUICK_REPLIES))
    if result.text is not None:
        return Rendered(result.text)
    if result.reply is None:
        return None
    return reply(result.reply)


def reply(answer: Reply) -> Rendered:
    body = "\n".join(answer.texts)
    data = answer.data or {}
    if data.get("needs") == "binding":
        return Rendered(SIGN_IN_FIRST)
    if not answer.understood:
        return Rendered(NOT_UNDERSTOOD, quick_replies=list(QUICK_REPLIES))
    if answer.intent in ("help", "greeting"):
        return Rendered(HELP, quick_replies=list(QUICK_REPLIES))
    month = data.get("month")
    if answer.intent == "bill.query" and month:
        year, mon = str(month).split("-")
        return Rendered(body, card={"title": f"{int(year)}年{int(mon)}月账单", "body": body,
                                    "url": None})  # fmt: skip
    if answer.intent in _ACCOUNT_INTENTS and answer.texts and not body.startswith("您名下"):
        return Rendered(body, card={"title": _CARD_TITLES[answer.intent], "body": body,
                                    "url": None})  # fmt: skip
    return Rendered(body)
