"""How-to questions reach the knowledge base; requests for the customer's own data run the
command (kefu.assistant.arbitration), on the labelled set in data/howto_vs_data.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kefu.assistant import arbitration
from kefu.knowledge.answering import Answer, Choice, HandOver, Suggestions
from kefu.language.intents import question_form

DATA = Path(__file__).parent / "data"
ROWS = {r["text"]: r for r in csv.DictReader((DATA / "howto_vs_data.csv").open(encoding="utf-8"))}


def _answer(score: float) -> Answer:
    return Answer(1, 1, "信用卡额度怎么提升", "…", score)


def _choices(score: float) -> Suggestions:
    return Suggestions("…", (Choice(1, 1, "信用卡额度怎么提升", score),))


def test_labelled_set_is_large_and_paired() -> None:
    sets = [csv.DictReader(p.open(encoding="utf-8")) for p in DATA.glob("howto_vs_data*.csv")]
    rows = [r for s in sets for r in s]
    assert len(rows) >= 60
    for topic in ("bill", "limit", "balance", "points", "loss", "repayment", "transactions"):
        routes = {r["route"] for r in rows if r["topic"] == topic}
        assert routes == {"intent", "knowledge"}, topic


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("信用卡怎么提额", "how_to"),
        ("挂失要收费吗", "how_to"),
        ("我的信用卡额度是多少", "request"),
        ("查余额", "request"),
        ("能帮我查下积分吗", "mixed"),
        ("ZD 3月", "code"),
        ("ＹＥ", "code"),
        ("最近几笔交易", "request"),
    ],
)
def test_question_form(text: str, kind: str) -> None:
    assert question_form(text).kind == kind


def test_a_month_or_card_tail_makes_a_request() -> None:
    assert question_form("3月账单").kind == "plain"
    assert question_form("3月账单", {"month": "2026-03"}).kind == "request"
    assert question_form("尾号1234怎么查", {"card_tail": "1234"}).kind == "mixed"


def test_route_on_form_and_scores() -> None:
    how_to, request = question_form("信用卡怎么提额"), question_form("查一下我的额度")
    limit = "credit_limit.query"
    assert arbitration.route(how_to, limit, 0.99, _answer(0.9)) == "knowledge"
    assert arbitration.route(how_to, limit, 0.99, _choices(0.5)) == "knowledge"
    # Nothing in the knowledge base: the command's data is still the best reply.
    assert arbitration.route(how_to, limit, 0.99, HandOver("no_match", 0.1)) == "intent"
    assert arbitration.route(request, limit, 0.5, _answer(1.0)) == "intent"
    # Neither marker: only a confident answer that outscores the intent.
    plain = question_form("额度")
    assert arbitration.route(plain, limit, 0.6, _answer(0.9)) == "knowledge"
    assert arbitration.route(plain, limit, 0.95, _answer(0.9)) == "intent"
    assert arbitration.route(plain, limit, 0.6, _choices(0.7)) == "intent"
    # Not a data intent, or a short code: never arbitrated.
    assert arbitration.route(how_to, "complaint", 0.9, _answer(1.0)) == "intent"
    assert arbitration.route(question_form("ED"), limit, 0.99, _answer(1.0)) == "intent"
    # The menu answers "怎么用" unless an FAQ answers outright.
    assert arbitration.route(how_to, "help", 0.7, _choices(0.6)) == "intent"
    assert arbitration.route(how_to, "help", 0.7, _answer(0.9)) == "knowledge"
    assert arbitration.route(question_form("怎么用"), "help", 1.0, _answer(0.95)) == "intent"


def test_a_lost_card_starts_the_loss_report_whatever_the_form() -> None:
    form = question_form("我的卡丢了怎么办")
    assert form.card_lost and form.kind == "mixed"
    assert not arbitration.consults_knowledge(form, "card.report_loss")
    assert arbitration.route(form, "card.report_loss", 0.5, _answer(1.0)) == "intent"
    fees = question_form("挂失要收费吗")
    assert arbitration.route(fees, "card.report_loss", 1.0, _answer(1.0)) == "knowledge"


# A representative subset through the real assistant, with the demo knowledge base, an
# unbound phone (the data commands then answer "please bind", under their own intent).
THROUGH_THE_ASSISTANT = [
    "信用卡怎么提额",
    "我的信用卡额度是多少",
    "临时额度怎么申请",
    "信用卡账单怎么查",
    "查一下我这个月的账单",
    "我上个月的账单是多少",
    "手机银行怎么查余额",
    "我卡里还有多少钱",
    "积分怎么兑换",
    "我有多少积分",
    "怎么设置信用卡自动还款",
    "我的还款日是哪天",
    "挂失要收费吗",
    "我的卡丢了怎么办",
    "转账记录怎么查",
    "查一下我的转账记录",
    "大额转账怎么操作",
    "ED",
]


@pytest.mark.db
async def test_how_to_questions_reach_the_faq_and_requests_the_command(with_faq) -> None:  # type: ignore[no-untyped-def]
    from kefu.knowledge.demo import demo_contents

    written = {c.question: c for c in demo_contents()}
    wrong = []
    for n, text in enumerate(THROUGH_THE_ASSISTANT):
        row = ROWS[text]
        # One decision serves every channel; WeChat is checked on a few (its own variant).
        for channel in ("sms", "wechat") if n < 4 else ("sms",):
            reply = await with_faq.phone(f"139{n:08d}", channel).say(text)
            if row["route"] == "intent":
                ok = reply.intent == row["target"]
            elif "您是不是想问" in reply.texts[0]:
                ok = reply.intent == "faq" and f"1) {row['target']}\n" in reply.texts[0]
            else:  # WeChat gets its own variant, or the SMS text where none was written
                faq = written[row["target"]]
                expected = faq.answer_sms if channel == "sms" else faq.answer_wechat
                ok = reply.intent == "faq" and reply.texts[0] == (expected or faq.answer_sms)
            if not ok:
                wrong.append(f"{channel} {text}: {reply.intent} {reply.texts[0][:40]}")
    assert not wrong, wrong
