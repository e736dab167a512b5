"""The assistant's replies as WeChat messages: a news (图文) card linking the H5 page where one
helps (bill, cards, branches, binding, an article), plain text otherwise.

An answer is one WeChat message as JSON: ``{"type": "text", "content": …}`` or
``{"type": "news", "articles": [{"title", "description", "url", "picurl"}]}`` — the form
stored with the inbound message, sent passively or through custom-send — or, through
custom-send only, ``{"type": "msgmenu", "head_content", "list": [{"id", "content"}],
"tail_content"}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from kefu.messaging.contract import Choices, Reply

Answer = dict[str, Any]

# What a menu CLICK bound to an intent sends to the assistant: the hall's short command, so
# menu and typed text run the very same dialog (the language layer maps each code to its intent).
INTENT_COMMANDS = {
    "bill.query": "ZD", "balance.query": "YE", "transactions.query": "MX",
    "repayment.query": "HK", "card.report_loss": "GS", "points.query": "JF",
    "credit_limit.query": "ED", "branch.queue": "PD", "agent.transfer": "RG",
    "subscribe": "DY", "unsubscribe": "TD", "bind": "BD", "complaint": "TS", "help": "H",
    "greeting": "你好",
}  # fmt: skip

HELP = (
    "您好，我是智能客服。可以直接问我，例如：“我要查3月的账单”“信用卡额度多少”"
    "“附近网点排队”，或点击下方菜单；需要人工服务请回复“转人工”。"
)
NOT_UNDERSTOOD = "抱歉，我没有理解您的意思。" + HELP
HANDED_OVER_AFTER_MISUNDERSTANDING = "抱歉，我没能理解您的问题，已为您转接人工客服。"
TRANSFERRED = "已为您转接人工客服，坐席将在这里回复您。"
MENU_ACK_WHILE_AGENT = "已收到，客服正在为您处理，请稍候。"
NOT_TEXT = "已收到。目前智能客服只能理解文字消息，如需人工服务请回复“转人工”。"
LOCATION_NOTED = "已收到您的位置，将为您推荐附近网点。"

_CARD_INTENTS = frozenset(
    {"balance.query", "transactions.query", "repayment.query", "points.query",
     "credit_limit.query"}
)  # fmt: skip


def welcome(display_name: str) -> Answer:
    name = f"“{display_name}”" if display_name else ""
    return text(f"感谢关注{name}！" + HELP)


def text(content: str) -> Answer:
    return {"type": "text", "content": content}


def menu(choices: Choices) -> Answer:
    """A menu message (msgmenu, 菜单消息): the follower taps an item and WeChat sends its
    content back as a text message carrying the item's id (``bizmsgmenuid``)."""
    return {"type": "msgmenu", "head_content": choices.head, "tail_content": choices.tail,
            "list": [{"id": c.id, "content": c.label} for c in choices.options]}  # fmt: skip


def news(title: str, description: str, url: str) -> Answer:
    return {"type": "news", "articles": [{"title": title, "description": description,
                                          "url": url, "picurl": ""}]}  # fmt: skip


def h5_url(base_url: str, account: str, page: str, **query: str) -> str:
    """A link to one of the account's H5 pages (served by the business hall, ``kefu.hall.h5``)."""
    url = f"{base_url.rstrip('/')}/h5/{account}/{page}"
    return url + ("?" + urlencode(query) if query else "")


def queue_note(position: int | None) -> str:
    if position is None:
        return ""
    if position <= 1:
        return "您是下一位，请稍候。"
    return f"您前面还有{position - 1}位客户，请稍候。"


def answer_for(reply: Reply, *, account: str, base_url: str) -> Answer:
    """One WeChat message for the assistant's reply."""
    body = "\n".join(reply.texts)
    if (reply.data or {}).get("needs") == "binding":
        return news("绑定银行卡后即可查询", "点击绑定：输入卡号和预留手机号，短信验证后即可使用。",
                    h5_url(base_url, account, "bind"))  # fmt: skip
    if not reply.understood:
        return text(NOT_UNDERSTOOD)
    if reply.intent in ("help", "greeting"):
        return text(HELP)
    month = (reply.data or {}).get("month")
    if reply.intent == "bill.query" and month:
        year, mon = month.split("-")
        return news(f"{int(year)}年{int(mon)}月账单", body,
                    h5_url(base_url, account, "bill", month=month))  # fmt: skip
    if reply.intent in _CARD_INTENTS and reply.texts and not body.startswith("您名下"):
        return news("我的卡", body, h5_url(base_url, account, "cards"))
    if reply.intent == "branch.queue" and "网点" in body and "即将开通" not in body:
        return news("网点排队", body, h5_url(base_url, account, "branches"))
    return text(body)


def article_answer(title: str, body: str, entry_id: int, *, account: str, base_url: str) -> Answer:
    return news(title, body[:300], h5_url(base_url, account, f"article/{entry_id}"))
