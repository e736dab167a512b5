"""Scripts (话术) that know their context (issue 23, finding 2): a test per variable, and the
finding itself — "我的信用卡被盗刷了" from a customer with a debit card (6488) and a credit card:
/fraud and /bill must name the credit card, never the debit card."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from kefu.bank.port import NotFound
from kefu.conversations.models import Conversation
from kefu.identity.models import Customer
from kefu.workspace import scripts
from tests.conftest import login

DEBIT = SimpleNamespace(
    card_no="6222020000006488", kind="debit", product="银联借记卡", status="active"
)
CREDIT = SimpleNamespace(
    card_no="6258090000005672", kind="credit", product="JCB 旅行信用卡", status="active"
)
CREDIT2 = SimpleNamespace(
    card_no="4392250000001111", kind="credit", product="Visa 金卡信用卡", status="active"
)


class FakeBank:
    def __init__(self, cards: list[Any], gender: str = "M") -> None:
        self.cards = cards
        self.gender = gender

    async def get_customer(self, customer_no: str) -> Any:
        if customer_no == "missing":
            raise NotFound(customer_no)
        return SimpleNamespace(name="王小明", gender=self.gender)

    async def list_cards(self, customer_no: str) -> list[Any]:
        return self.cards


def fill(
    body: str, *, cards: list[Any] | None = None, said: str = "", intent: str | None = None,
    card: str | None = None, customer: bool = True, gender: str = "M", channel: str = "wechat",
) -> scripts.Resolution:  # fmt: skip
    conversation = Conversation(channel=channel, contact="13800138000", intent=intent, subject="")
    who = Customer(bank_customer_no="C1") if customer else None
    bank = FakeBank([DEBIT, CREDIT] if cards is None else cards, gender)
    return asyncio.run(
        scripts.resolve(body, conversation=conversation, customer=who, bank=bank,  # type: ignore[arg-type]
                        agent_name="李晓雨", topic_texts=[said] if said else [], card=card)
    )  # fmt: skip


# -- one test per variable -------------------------------------------------------------------------
def test_name_is_the_customers_own_name_or_a_polite_generic() -> None:
    assert fill("{name}您好").text == "王小明您好"
    assert fill("{name}您好", customer=False).text == "客户您好"


def test_title_follows_gender_or_is_generic() -> None:
    assert fill("{title}您好").text == "王先生您好"
    assert fill("{title}您好", gender="F").text == "王女士您好"
    assert fill("{title}您好", customer=False).text == "尊敬的客户您好"


def test_card_tail_follows_the_topic() -> None:
    assert fill("尾号{card_tail}", said="我的信用卡被盗刷了").text == "尾号5672"
    assert fill("尾号{card_tail}", said="借记卡余额不对").text == "尾号6488"
    assert fill("尾号{card_tail}", intent="bill_query").text == "尾号5672"
    assert fill("尾号{card_tail}", cards=[DEBIT], said="你好").text == "尾号6488"  # only one card
    assert fill("尾号{card_tail}", customer=False).text == "尾号****"


def test_card_tail_follows_the_product_the_reply_names() -> None:
    # /bill: the text itself says 信用卡, whatever the customer wrote.
    assert (
        fill("您尾号{card_tail}的信用卡本期账单已发送", said="你好").text
        == "您尾号5672的信用卡本期账单已发送"
    )


def test_card_tail_asks_for_a_choice_instead_of_guessing() -> None:
    ambiguous = fill("尾号{card_tail}", said="我的卡被盗刷了")
    assert ambiguous.needs_choice and ambiguous.text is None
    assert {c.tail for c in ambiguous.choices} == {"6488", "5672"}
    two_credit = fill("尾号{card_tail}", cards=[DEBIT, CREDIT, CREDIT2], said="信用卡被盗刷")
    assert two_credit.needs_choice and "2张信用卡" in two_credit.reason
    no_credit = fill("尾号{card_tail}", cards=[DEBIT], said="信用卡被盗刷")
    assert no_credit.needs_choice and "没有信用卡" in no_credit.reason
    both = fill("尾号{card_tail}", said="信用卡和借记卡都被盗刷")
    assert both.needs_choice
    chosen = fill("尾号{card_tail}", said="我的卡被盗刷了", card="6488")
    assert chosen.text == "尾号6488" and not chosen.needs_choice
    assert fill("尾号{card_tail}", said="我的卡被盗刷了", card="0000").needs_choice  # not theirs


def test_card_kind_names_the_product() -> None:
    assert fill("您的{card_kind}", said="信用卡被盗刷").text == "您的信用卡"
    assert fill("您的{card_kind}", said="储蓄卡被盗刷").text == "您的借记卡"
    assert fill("您的{card_kind}", customer=False).text == "您的卡片"


def test_agent_is_the_agents_name() -> None:
    assert fill("我是客服{agent}").text == "我是客服李晓雨"


def test_channel_is_a_chinese_label() -> None:
    assert fill("通过{channel}联系").text == "通过微信联系"
    assert fill("通过{channel}联系", channel="sms").text == "通过短信联系"


def test_unknown_variables_and_bank_errors() -> None:
    with pytest.raises(scripts.ScriptError):
        fill("{password}")
    conversation = Conversation(channel="sms", contact="1", intent=None, subject="")
    missing = asyncio.run(
        scripts.resolve("{title}尾号{card_tail}", conversation=conversation, customer=Customer(bank_customer_no="missing"),
                        bank=FakeBank([DEBIT, CREDIT]), agent_name="x")  # type: ignore[arg-type]
    )  # fmt: skip
    assert missing.text == "尊敬的客户尾号****"


# -- the finding, over HTTP with the synthetic bank ---------------------------------------------------
@pytest.mark.db
def test_fraud_and_bill_scripts_name_the_credit_card(client) -> None:  # type: ignore[no-untyped-def]
    """C0000000001 in the synthetic bank holds debit card …6488 and a credit card."""
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    routed = client.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": "我的信用卡被盗刷了", "customer_no": "C0000000001",
    }).json()  # fmt: skip
    cid = routed["conversation_id"]
    panel = client.get(f"/api/v1/conversations/{cid}/customer").json()
    kinds = {c["kind"]: c["card_no"][-4:] for c in panel["cards"]}
    assert kinds["debit"] == "6488" and kinds["credit"] != "6488", panel
    credit = kinds["credit"]
    assert (
        client.post(f"/api/v1/conversations/{cid}/claim").status_code == 200
    )  # the complaint queue

    scripts_by_key = {s["shortcut"]: s["body"] for s in client.get("/api/v1/scripts").json()}
    for shortcut in ("fraud", "bill"):
        preview = client.post(
            f"/api/v1/conversations/{cid}/preview", json={"body": scripts_by_key[shortcut]}
        )
        assert preview.status_code == 200, preview.text
        result = preview.json()
        assert not result["needs_choice"] and result["card"] == {
            "tail": credit,
            "kind": "credit",
        }, result
        assert f"尾号{credit}" in result["text"] and "6488" not in result["text"]
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": scripts_by_key[shortcut]}
        )
        assert sent.status_code == 201, sent.text
        assert f"尾号{credit}" in sent.json()["body"] and "6488" not in sent.json()["body"]

    # A neutral "卡被盗刷" does not say which card: sending refuses until the agent chooses.
    neutral = client.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": "我的卡被盗刷了", "customer_no": "C0000000001",
    }).json()["conversation_id"]  # fmt: skip
    assert client.post(f"/api/v1/conversations/{neutral}/claim").status_code == 200
    body = scripts_by_key["fraud"]
    preview = client.post(f"/api/v1/conversations/{neutral}/preview", json={"body": body}).json()
    assert preview["needs_choice"] and {c["tail"] for c in preview["choices"]} == {"6488", credit}
    refused = client.post(f"/api/v1/conversations/{neutral}/messages", json={"body": body})
    assert refused.status_code == 422
    chosen = client.post(
        f"/api/v1/conversations/{neutral}/messages", json={"body": body, "card": "6488"}
    )
    assert chosen.status_code == 201 and "尾号6488" in chosen.json()["body"]
