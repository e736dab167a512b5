"""Inspection rules, one behaviour each, with a stand-in for the sentiment model (the real
model's precision and recall on the labelled set are measured in benchmarks/quality_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kefu.quality.inspection import Msg, RulesError, inspect, load_rules, parse_rules
from kefu.quality.service import QualityError, review_total, sampled

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
GOOD = [("customer", "你好，我想查账单"), ("agent", "您好，很高兴为您服务。"),
        ("agent", "请先核实您的身份，报一下身份证后四位。"), ("customer", "1234"),
        ("agent", "您的本期账单金额是3200元。"), ("customer", "好的谢谢"),
        ("agent", "请问还有其他可以帮您的吗？")]  # fmt: skip


def msgs(turns: list[tuple[str, str]], minutes: list[float] | None = None) -> list[Msg]:
    at = minutes or list(range(len(turns)))
    return [Msg(s, t, T0 + timedelta(minutes=m)) for (s, t), m in zip(turns, at, strict=True)]


def neutral(text: str) -> float:
    return -0.8 if "投诉" in text else 0.1


def rules_of(turns, minutes=None) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.rule for f in inspect(msgs(turns, minutes), load_rules(), polarity=neutral).findings}


def test_a_clean_conversation_scores_100() -> None:
    result = inspect(msgs(GOOD), load_rules(), polarity=neutral)
    assert (result.score, result.findings) == (100.0, [])


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({1: ("agent", "说吧，什么事。")}, "greeting"),
        ({2: ("agent", "请稍等。")}, "identity_before_account"),
        ({4: ("agent", "放心，保本保息，稳赚。")}, "forbidden_words"),
        ({4: ("agent", "您的卡号 6214830000001126 的账单金额是3200元。")}, "unmasked_pii"),
        ({5: ("customer", "你们太差了，我要投诉！")}, "negative_turn"),
        ({6: ("agent", "行。")}, "closing_script"),
    ],
)
def test_each_rule_finds_its_violation(change: dict, rule: str) -> None:
    turns = [change.get(n, t) for n, t in enumerate(GOOD)]
    assert rules_of(turns) == {rule}


def test_decoys_are_not_violations() -> None:
    turns = [*GOOD[:6], ("agent", "我不知道您是否还需要短信提醒？卡号6214********1126已冻结。"),
             GOOD[6]]  # fmt: skip
    assert rules_of(turns) == set()


def test_response_gap_counts_from_the_agents_first_message() -> None:
    late = [0, 30, 31, 32, 33, 34, 50]  # waited 30 min in the queue: not the agent's gap
    assert rules_of(GOOD, late) == {"response_gap"}  # 16 min from 好的谢谢 to the reply
    assert rules_of(GOOD, [0, 30, 31, 32, 33, 34, 36]) == set()


def test_score_is_weighted() -> None:
    turns = [change for change in GOOD]
    turns[1] = ("agent", "说吧。")  # greeting: weight 10 of 110
    result = inspect(msgs(turns), load_rules(), polarity=neutral)
    assert result.score == pytest.approx(100 * (1 - 10 / 110), abs=0.05)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "rules: a list"),
        ({"rules": [{"id": "a", "kind": "nope", "weight": 1}]}, "rules[0].kind"),
        ({"rules": [{"id": "a", "kind": "greeting", "weight": 0, "phrases": ["x"]}]}, "weight"),
        ({"rules": [{"id": "a", "kind": "greeting", "weight": 1}]}, "rules[0].phrases"),
        ({"rules": [{"id": "a", "kind": "unmasked_pii", "weight": 1},
                    {"id": "a", "kind": "unmasked_pii", "weight": 1}]}, "rules[1].id"),
    ],
)  # fmt: skip
def test_bad_rules_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(RulesError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(data)


def test_review_form_and_sample() -> None:
    assert review_total({"courtesy": "20", "accuracy": "30", "compliance": "0",
                         "resolution": "5"})[0] == 55.0  # fmt: skip
    with pytest.raises(QualityError, match="0–30"):
        review_total({"courtesy": "1", "accuracy": "31", "compliance": "0", "resolution": "0"})
    with pytest.raises(QualityError):
        review_total({"courtesy": "x"})
    share = sum(sampled(i, 0.1) for i in range(10_000)) / 10_000
    assert 0.08 < share < 0.12 and sampled(7, 0.1) == sampled(7, 0.1)
