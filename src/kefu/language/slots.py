"""Slot extraction: month, amount, card tail, city and branch, from normalised text.

Every slot comes from an explicit pattern; numerals inside a matched span are converted with
cn2an (amounts) or a small digit table (months, card tails). cn2an is never run on free text:
its free-text mode rewrites names such as 张三 into 张3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from kefu.language.resources import DATA_DIR, load_once, read_lines

_CN_DIGIT = {"零": 0, "〇": 0, "○": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN = "零〇○一幺二两三四五六七八九"
_MONTH_NUM = rf"(1[0-2]|0?[1-9]|十[一二]?|[{_CN}])"
_YEAR_NUM = rf"(\d{{4}}|\d{{2}}|[{_CN}]{{4}}|[{_CN}]{{2}})"

# Order matters: the most specific month expressions are tried first.
_ABS_MONTH = re.compile(_YEAR_NUM + r"\s*年\s*" + _MONTH_NUM + r"\s*月")
_ISO_MONTH = re.compile(r"(?<!\d)(20\d{2})[-/.](1[0-2]|0?[1-9])(?![\d])")
_REL_YEAR_MONTH = re.compile(r"(今年|去年|前年)\s*" + _MONTH_NUM + r"\s*月")
_REL_MONTH = re.compile(r"上上个?月|上个月|上月|上期|本月|这个月|这月|本期|当月|下个?月")
_BARE_MONTH = re.compile(r"(?<![\d年个])" + _MONTH_NUM + r"\s*月")
_REL_OFFSETS = {"上上个月": -2, "上上月": -2, "上个月": -1, "上月": -1, "上期": -1,
                "本月": 0, "这个月": 0, "这月": 0, "本期": 0, "当月": 0,
                "下个月": 1, "下月": 1}  # fmt: skip

_TAIL = re.compile(
    r"(?:尾号|末四位|后四位|尾数|卡号后4位|后4位|末4位)\s*(?:是|为|:)?\s*"
    rf"([0-9]{{4}}|[{_CN}]{{4}})(?![0-9{_CN}])"
)
_AMOUNT_NUM = rf"(\d+(?:\.\d+)?(?:\s*[万千百])?(?:\d|[{_CN}])?|[{_CN}十百千万点]+)"
_AMOUNT = re.compile(
    rf"(?:[¥￥]\s*(\d+(?:\.\d+)?))|{_AMOUNT_NUM}\s*(?:元|块钱|块|rmb|人民币)"
    rf"|{_AMOUNT_NUM}(?=\s*的?(?:额度|欠款|手续费|年费))"
    # Ten-thousands and thousands are money in a bank chat even without a unit: "提额到5万".
    rf"|(\d+(?:\.\d+)?\s*[万千])(?![米人次个步])"
    # A money verb followed by a bare number: "转一万二", "借我两千", "还500".
    rf"|(?:转账?|转给|还|存|取|汇|付|交|借)了?(?:我|他|她|你)?\s*"
    rf"{_AMOUNT_NUM}(?![\d{_CN}十百千万点]|\s*(?:月|号|日|个|期|年|天|笔|张|次|点|位))"
)
_BRANCH = re.compile(r"([\u4e00-\u9fffa-z0-9]{1,10}?)(支行|分行|网点|营业厅|营业部)")
# Words that end the phrase in front of a branch name ("我想去人民路支行" → 人民路支行).
_BRANCH_CUT = re.compile(r".*(?:我|想|要|去|到|在|的|是|个|家|那|这|从|和|跟|查|问|附近|最近)")


@dataclass(frozen=True)
class _Places:
    cities: tuple[str, ...]
    pattern: re.Pattern[str]


@load_once
def _places() -> _Places:
    cities = tuple(sorted(read_lines(DATA_DIR / "cities.txt"), key=len, reverse=True))
    return _Places(cities, re.compile("|".join(map(re.escape, cities))))


def _small_number(token: str) -> int:
    """1–12 and 4-digit years written in Arabic or Chinese digits (十, 十一, 十二 included)."""
    if token.isdigit():
        return int(token)
    if token.startswith("十"):
        return 10 + (_CN_DIGIT[token[1]] if len(token) > 1 else 0)
    value = 0
    for ch in token:
        value = value * 10 + _CN_DIGIT[ch]
    return value


def _shift(year: int, month: int, offset: int) -> str:
    index = year * 12 + (month - 1) + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_month(text: str, today: date) -> str | None:
    """The month a message refers to, as ``YYYY-MM``, relative to ``today``.

    A bare month ("12月") means the latest such month not after the reference month, which is
    what a customer asking for a bill means: on 2026-11-29 "12月" is 2025-12.
    """
    if m := _ABS_MONTH.search(text):
        year, month = _small_number(m.group(1)), _small_number(m.group(2))
        if year < 100:
            year += 2000
        if 1 <= month <= 12:
            return f"{year:04d}-{month:02d}"
    if m := _ISO_MONTH.search(text):
        return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
    if m := _REL_YEAR_MONTH.search(text):
        month = _small_number(m.group(2))
        back = {"今年": 0, "去年": 1, "前年": 2}[m.group(1)]
        if 1 <= month <= 12:
            return f"{today.year - back:04d}-{month:02d}"
    if m := _REL_MONTH.search(text):
        key = m.group(0)
        return _shift(today.year, today.month, _REL_OFFSETS[key])
    if m := _BARE_MONTH.search(text):
        month = _small_number(m.group(1))
        if 1 <= month <= 12:
            year = today.year if month <= today.month else today.year - 1
            return f"{year:04d}-{month:02d}"
    return None


def parse_card_tail(text: str) -> str | None:
    if m := _TAIL.search(text):
        return "".join(str(_CN_DIGIT.get(ch, ch)) for ch in m.group(1))
    return None


def _to_number(span: str) -> float | None:
    span = span.replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", span):
        return float(span)
    import cn2an  # deferred: 0.3 s import, needed only when an amount is spelled out

    try:
        return float(cn2an.cn2an(span, "smart"))
    except (ValueError, KeyError, IndexError):
        return None


def parse_amount(text: str) -> float | int | None:
    for m in _AMOUNT.finditer(text):
        span = next(g for g in m.groups() if g)
        value = _to_number(span)
        if value is not None and value > 0:
            return int(value) if value.is_integer() else round(value, 2)
    return None


def parse_city(text: str) -> str | None:
    m = _places().pattern.search(text)
    return m.group(0) if m else None


def parse_branch(text: str) -> str | None:
    m = _BRANCH.search(text)
    if not m:
        return None
    name = _BRANCH_CUT.sub("", m.group(1))
    if not name:
        return None  # "附近的网点" names no branch
    return name + m.group(2)


def extract_slots(text: str, today: date) -> dict[str, Any]:
    """All slots found in normalised ``text``; absent slots are left out."""
    slots: dict[str, Any] = {}
    if (month := parse_month(text, today)) is not None:
        slots["month"] = month
    # Card tails are digits too; remove them before looking for amounts.
    tail = parse_card_tail(text)
    if tail is not None:
        slots["card_tail"] = tail
        text = _TAIL.sub(" ", text)
    if (amount := parse_amount(text)) is not None:
        slots["amount"] = amount
    if (city := parse_city(text)) is not None:
        slots["city"] = city
    if (branch := parse_branch(text)) is not None:
        slots["branch"] = branch
    return slots
