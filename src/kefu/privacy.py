"""Masking of personal data (phone, ID and card numbers, names) for logs and the UI."""

from __future__ import annotations

import re

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


def mask_text(text: str) -> str:
    """Masks every ID, card and phone number found in free text (log lines, messages)."""
    text = _ID.sub(lambda m: m.group(1) + "********" + m.group(2)[-4:], text)
    text = _CARD.sub(lambda m: m.group(1)[:4] + "********" + m.group(2), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(2), text)
