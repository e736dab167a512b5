"""Scripts (话术) that know their context: variables resolved from the conversation's topic
and the customer's products, previewed before sending, never silently the wrong product.

Which card ``{card_tail}`` and ``{card_kind}`` name:

1. the card the agent chose (``card``: its last four digits), if the customer has it;
2. else the product the reply itself names (the /bill script says "信用卡"), else the product
   the conversation is about (intent, subject, the customer's messages: "我的信用卡被盗刷了");
3. the customer's cards of that kind: exactly one → that one; several, or none of that kind,
   or no product named and several cards → **a choice** (``needs_choice``): the preview lists
   the cards and sending refuses until one is chosen.

An unidentified customer (or one the bank does not answer for) gets polite generic forms
(``尊敬的客户``, ``****``, ``卡片``), as before.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from kefu.bank.models import Card
from kefu.bank.port import BankError, BankPort, NotFound
from kefu.conversations.models import Conversation
from kefu.identity.models import Customer

VARIABLES = ("name", "title", "card_tail", "card_kind", "agent", "channel")
CARD_VARIABLES = {"card_tail", "card_kind"}
KIND_LABELS = {"credit": "信用卡", "debit": "借记卡"}
CHANNEL_LABELS = {"sms": "短信", "wechat": "微信", "weibo": "微博", "webchat": "网页在线客服"}

# Words that say which product a text is about.
_WORDS = {
    "credit": ("信用卡", "账单", "还款", "额度", "提额", "分期", "积分", "年费", "最低还款"),
    "debit": ("借记卡", "储蓄卡", "工资卡", "银行卡余额", "活期", "社保卡"),
}
_INTENTS = {
    "credit": {
        "bill_query",
        "repayment_due",
        "points",
        "credit_card",
        "credit_limit",
        "installment",
    },
    "debit": {"balance_query", "debit_card"},
}


class ScriptError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def template_variables(body: str) -> list[str]:
    """The {variables} a text uses; unknown ones are an error so nothing half-filled is sent."""
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(body) if field is not None]
    except ValueError as exc:
        raise ScriptError(f"the text has an unbalanced brace: {exc}") from None
    unknown = sorted({n for n in names if n not in VARIABLES})
    if unknown:
        raise ScriptError(f"unknown variables {unknown}; use {list(VARIABLES)}")
    return names


def kinds_named(text: str) -> set[str]:
    """The card products a text talks about ("credit", "debit")."""
    return {kind for kind, words in _WORDS.items() if any(w in text for w in words)}


def topic_kinds(intent: str | None, texts: list[str]) -> set[str]:
    found = {kind for kind, intents in _INTENTS.items() if intent in intents}
    for text in texts:
        found |= kinds_named(text)
    return found


@dataclass
class CardOption:
    tail: str
    kind: str
    product: str
    status: str

    @property
    def label(self) -> str:
        return f"{KIND_LABELS.get(self.kind, self.kind)} 尾号{self.tail}（{self.product}）"


@dataclass
class Resolution:
    """A script filled for one customer, or why it cannot be yet."""

    text: str | None  # None while a choice is needed
    values: dict[str, str]
    used: list[str]
    choices: list[CardOption] = field(default_factory=list)
    needs_choice: bool = False
    reason: str = ""  # why the card was chosen, or why a choice is needed (Chinese, for staff)
    card: CardOption | None = None


def _option(card: Card) -> CardOption:
    return CardOption(card.card_no[-4:], card.kind, card.product, card.status)


def choose_card(
    cards: list[CardOption], *, reply_kinds: set[str], topic: set[str], chosen: str | None
) -> tuple[CardOption | None, str, bool]:
    """(card, reason, needs_choice) by the rules in the module docstring."""
    if chosen:
        for card in cards:
            if card.tail == chosen:
                return card, "坐席选择", False
        return None, f"客户没有尾号{chosen}的卡片，请重新选择", True
    if not cards:
        return None, "客户名下没有卡片", False
    wanted = reply_kinds or topic
    source = "回复内容" if reply_kinds else "会话主题"
    if len(wanted) == 1:
        (kind,) = wanted
        matching = [c for c in cards if c.kind == kind]
        label = KIND_LABELS.get(kind, kind)
        if len(matching) == 1:
            return matching[0], f"{source}涉及{label}", False
        if not matching:
            return None, f"{source}涉及{label}，但客户名下没有{label}，请选择卡片", True
        return None, f"客户有{len(matching)}张{label}，请选择", True
    if len(cards) == 1:
        return cards[0], "客户只有一张卡", False
    if wanted:
        return None, "会话同时涉及信用卡和借记卡，请选择卡片", True
    return None, "无法从会话判断是哪张卡，请选择", True


async def resolve(
    body: str, *, conversation: Conversation, customer: Customer | None, bank: BankPort, agent_name: str,
    topic_texts: list[str] | None = None, card: str | None = None,
) -> Resolution:  # fmt: skip
    """Fills ``body`` for this conversation's customer. ``topic_texts``: the subject and the
    customer's messages; ``card``: the last four digits the agent chose."""
    names = template_variables(body)
    values: dict[str, str] = {
        "name": "客户", "title": "尊敬的客户", "card_tail": "****", "card_kind": "卡片",
        "agent": agent_name, "channel": CHANNEL_LABELS.get(conversation.channel, conversation.channel),
    }  # fmt: skip
    result = Resolution(text=None, values=values, used=list(dict.fromkeys(names)))
    if customer is not None and {"name", "title", *CARD_VARIABLES} & set(names):
        try:
            profile = await bank.get_customer(customer.bank_customer_no)
            values["name"] = profile.name
            values["title"] = profile.name[0] + ("先生" if profile.gender == "M" else "女士")
            if CARD_VARIABLES & set(names):
                options = [_option(c) for c in await bank.list_cards(customer.bank_customer_no)]
                # The reply's own words, without its variables, say which product it is about.
                plain = "".join(literal for literal, *_ in string.Formatter().parse(body))
                texts = [conversation.subject or "", *(topic_texts or [])]
                chosen, reason, needs = choose_card(
                    options, reply_kinds=kinds_named(plain),
                    topic=topic_kinds(conversation.intent, texts), chosen=card,
                )  # fmt: skip
                result.reason = reason
                result.card = chosen
                if card:  # the agent chose: keep offering the others
                    result.choices = options
                if needs:
                    result.needs_choice = True
                    result.choices = options
                    return result
                if chosen is not None:
                    values["card_tail"] = chosen.tail
                    values["card_kind"] = KIND_LABELS.get(chosen.kind, "卡片")
        except (NotFound, BankError):
            pass  # the generic forms above are still a correct, polite reply
    result.text = body.format_map(values)
    return result


def preview_values(result: Resolution) -> list[tuple[str, str]]:
    """(variable, value) pairs the text uses, for the preview."""
    return [(name, result.values[name]) for name in result.used if name in result.values]


def as_json(result: Resolution) -> dict[str, Any]:
    return {
        "text": result.text, "needs_choice": result.needs_choice, "reason": result.reason,
        "values": dict(preview_values(result)),
        "card": None if result.card is None else {"tail": result.card.tail, "kind": result.card.kind},
        "choices": [{"tail": c.tail, "kind": c.kind, "product": c.product, "label": c.label} for c in result.choices],
    }  # fmt: skip
