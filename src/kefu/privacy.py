"""Masking of personal data (phone, ID and card numbers, names) for logs and the UI."""

from __future__ import annotations

import re
from typing import Any

# Longest first so a 19-digit card is not read as a phone number plus digits.
_CARD = re.compile(r"(?<!\d)(\d{6})\d{6,9}(\d{4})(?!\d)")
_ID = re.compile(r"(?<![\dA-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![\dA-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "****"


def mask_card(value: str) -> str:
    return value[:4] + " **** **** " + value[-4:] if len(value) >= 12 else "****"


def mask_id_number(value: str) -> str:
    return value[:6] + "********" + value[-4:] if len(value) == 18 else "****"


def mask_name(value: str) -> str:
    if len(value) <= 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


# Digits as customers type them: ASCII or full-width (０-９), grouped by spaces (also the
# no-break and ideographic ones) or dashes, with a +86 / 0086 country code in front of a phone
# (issue 21, finding 6: "6214 8300 0000 1126 488", "6214-8300-…", "+8615212345679").
_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
_D = "0-9\uff10-\uff19"
_SEP = "[ \\-\u00a0\u3000\u2010\u2011\u2012\u2013\uff0d]"
_RUN = re.compile(
    rf"(?<![{_D}A-Za-z\uff21-\uff3a\uff41-\uff5a])(\+|＋)?"
    rf"([{_D}](?:{_SEP}?[{_D}]){{10,21}}(?:{_SEP}?[Xx\uff38\uff58])?)"
    rf"(?![{_D}A-Za-z\uff21-\uff3a\uff41-\uff5a])"
)


def _mask_run(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub("[^0-9Xx]", "", raw.translate(_FULLWIDTH))
    if digits[-1] in "Xx":
        return digits[:6] + "********" + digits[-4:] if len(digits) == 18 else raw
    for prefix in ("0086", "86"):  # a phone with its country code
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 11 and _PHONE.fullmatch(rest):
            return "+86" + rest[:3] + "****" + rest[-4:]
    if len(digits) == 11 and _PHONE.fullmatch(digits):
        return digits[:3] + "****" + digits[-4:]
    if len(digits) == 18:  # an ID number (its last digit may also be a digit)
        return digits[:6] + "********" + digits[-4:]
    if 15 <= len(digits) <= 19:  # a card (or an old 15-digit ID)
        return digits[:4] + "********" + digits[-4:]
    return raw


def mask_text(text: str) -> str:
    """Masks every ID, card and phone number found in free text (log lines, messages),
    however it was typed: grouped with spaces or dashes, in full-width digits, with +86."""
    text = _RUN.sub(_mask_run, text)
    text = _ID.sub(lambda m: m.group(1) + "********" + m.group(2)[-4:], text)
    text = _CARD.sub(lambda m: m.group(1)[:4] + "********" + m.group(2), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def masked_summary(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text`` with its numbers masked first: cutting
    first would leave the head of a card or ID number too short for ``mask_text`` to know it
    (a conversation's subject is cut from the customer's first message)."""
    return mask_text(text)[:limit]


def mask_data(value: Any) -> Any:
    """``mask_text`` over every string in a JSON-like value (routing attributes, event details:
    what a customer or an agent typed may sit anywhere in them)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(item) for item in value]
    return value
