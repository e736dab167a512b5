from __future__ import annotations

from datetime import date

import pytest

from kefu.language.normalize import normalize
from kefu.language.slots import extract_slots, parse_month

from .conftest import TODAY


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("我要查3月的账单", "2026-03"),
        ("三月份的账单", "2026-03"),
        ("上个月", "2026-10"),
        ("上上个月的账单", "2026-09"),
        ("本月账单", "2026-11"),
        ("这个月花了多少", "2026-11"),
        ("本期账单", "2026-11"),
        ("去年12月的账单", "2025-12"),
        ("2025年8月账单", "2025-08"),
        ("12月账单", "2025-12"),  # bare month after the reference month → last year
        ("十一月账单", "2026-11"),
        ("２０２５年１２月", "2025-12"),
        ("二〇二五年三月", "2025-03"),
        ("3月5日的交易", "2026-03"),
    ],
)
def test_month(text: str, month: str) -> None:
    assert parse_month(normalize(text), TODAY) == month


def test_relative_month_crosses_year() -> None:
    assert parse_month("上个月", date(2026, 1, 15)) == "2025-12"
    assert parse_month("上上个月", date(2026, 2, 1)) == "2025-12"


def test_no_month_in_durations() -> None:
    assert "month" not in extract_slots("近三个月流水", TODAY)


@pytest.mark.parametrize(
    ("text", "amount"),
    [("我要转一万二", 12000), ("两千块", 2000), ("转账500元", 500), ("¥30.5", 30.5),
     ("额度提到5万元", 50000), ("存了三万", 30000), ("我想申请提额到5万", 50000),
     ("额度2.5万", 25000)],
)  # fmt: skip
def test_amount(text: str, amount: float) -> None:
    assert extract_slots(normalize(text), TODAY)["amount"] == amount


def test_card_tail_in_digits_and_chinese() -> None:
    assert extract_slots("尾号6789的卡", TODAY)["card_tail"] == "6789"
    assert extract_slots("尾号六七八九", TODAY)["card_tail"] == "6789"
    # The tail is not mistaken for an amount.
    assert "amount" not in extract_slots("尾号1234的卡", TODAY)


def test_city_and_branch() -> None:
    slots = extract_slots("北京朝阳支行现在排队吗", TODAY)
    assert slots["city"] == "北京"
    assert slots["branch"] == "北京朝阳支行"
    assert extract_slots("我想去人民路支行", TODAY)["branch"] == "人民路支行"
    assert "branch" not in extract_slots("附近的网点", TODAY)


def test_names_are_not_turned_into_numbers() -> None:
    # cn2an's free-text mode would read 张三 as 张3; only matched spans are converted.
    assert extract_slots("给张三打电话", TODAY) == {}


def test_distance_is_not_money() -> None:
    assert "amount" not in extract_slots("3千米", TODAY)
