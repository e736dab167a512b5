"""Field validation for the forms: GB 11643 resident ID numbers (check digit and a real birth
date), Luhn card numbers, mainland mobile numbers, amounts in yuan, choices and plain text.

The check-digit arithmetic is the synthetic bank's (``kefu.bank.synthetic.checksums``): one
implementation of each algorithm in the project."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from kefu.bank.synthetic.checksums import is_luhn_valid, is_valid_id_number
from kefu.branch.forms.definitions import FormDefinition, FormField

MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SPACES = re.compile(r"[\s\-\u3000]+")


def _compact(value: str) -> str:
    """Full-width digits to ASCII and spaces/dashes out: '６２１４ ８３００…' → '62148300…'."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value))


def check_id_number(value: str) -> str:
    number = _compact(value).upper()
    if not is_valid_id_number(number):
        raise ValueError("身份证号码应为18位且校验位正确")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("身份证号码中的出生日期无效") from None
    return number


def check_card(value: str) -> str:
    number = _compact(value)
    if not (16 <= len(number) <= 19 and number.isdigit() and is_luhn_valid(number)):
        raise ValueError("卡号应为16至19位数字且校验正确")
    return number


def check_mobile(value: str) -> str:
    number = _compact(value)
    if number.startswith("+86"):
        number = number[3:]
    if not MOBILE.match(number):
        raise ValueError("请填写11位中国大陆手机号码")
    return number


def check_amount(value: str, max_value: float | None) -> str:
    try:
        # Spaces and thousands commas out, but not dashes: "-5" is a negative amount.
        amount = Decimal(re.sub(r"[\s,，]+", "", unicodedata.normalize("NFKC", value)))
    except InvalidOperation:
        raise ValueError("请填写金额，如 1000.00") from None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("金额应大于0，最多两位小数")
    if max_value is not None and amount > Decimal(str(max_value)):
        raise ValueError(f"金额不能超过 {max_value:,.0f} 元")
    return f"{amount:.2f}"


def check_text(value: str, max_length: int) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError("含有不可见的控制字符")
    if len(text) > max_length:
        raise ValueError(f"最多{max_length}个字")
    return text


def check_field(field: FormField, raw: str) -> str:
    if field.type == "id_number":
        return check_id_number(raw)
    if field.type == "card":
        return check_card(raw)
    if field.type == "mobile":
        return check_mobile(raw)
    if field.type == "amount":
        return check_amount(raw, field.max_value)
    if field.type == "choice":
        if raw not in field.choices:
            raise ValueError("请从选项中选择")
        return raw
    return check_text(raw, field.max_length)


def validate(form: FormDefinition, raw: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(clean values, errors by field name). Unknown names are ignored; an optional field left
    empty is absent from the values."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in form.fields:
        given = (raw.get(field.name) or "").strip()
        if not given:
            if field.required:
                errors[field.name] = f"请填写{field.label}"
            continue
        try:
            values[field.name] = check_field(field, given)
        except ValueError as exc:
            errors[field.name] = str(exc)
    return values, errors
