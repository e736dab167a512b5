"""Strict checks of values that end up in a customer's message (issue 21, finding 10).

Numbers given as template variables (an amount, a card's last digits, a month) must be finite,
not negative and not absurdly large: ``NaN``, ``Infinity``, ``1e308`` and ``-1`` used to be
sent as "nan", "inf" and "-inf" (JSON parsers accept NaN and Infinity). Free text may hold line
breaks but no other control character, no bidirectional override or isolate (U+202A-U+202E,
U+2066-U+2069: they make "1000" read as "0001"), and no byte-order mark or other invisible
format character that carriers and handsets render differently.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Annotated, Any

from fastapi import HTTPException
from pydantic import Field

# The largest number a bank message has any business carrying (a 13-digit amount in fen).
MAX_NUMBER = 10**13
# Invisible format characters that are refused; the zero-width joiner (emoji sequences) and
# non-joiner are allowed.
_ALLOWED_FORMAT = {"\u200c", "\u200d"}


def text_problem(text: str, *, allow_newline: bool = True) -> str | None:
    """Why ``text`` may not be sent, or None."""
    for ch in text:
        if ch == "\n" and allow_newline:
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"control character U+{ord(ch):04X}"
        if category == "Cf" and ch not in _ALLOWED_FORMAT:
            return f"invisible format character U+{ord(ch):04X} (bidirectional override, BOM)"
        if category in {"Cs", "Co", "Cn"}:
            return f"character U+{ord(ch):04X} is not text"
        if ch in "\u2028\u2029":
            return f"line or paragraph separator U+{ord(ch):04X}"
    return None


def number_problem(value: Any) -> str | None:
    """Why ``value`` is not a number a message may carry, or None (strings are text)."""
    if isinstance(value, bool):
        return "must be a string or a number"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if value < 0:
            return "must not be negative"
        if value > MAX_NUMBER:
            return f"must be at most {MAX_NUMBER}"
        return None
    if isinstance(value, str):
        word = value.strip().lower().lstrip("+-")
        if word in {"nan", "inf", "infinity"}:
            return "must be a finite number"
    return None


def check_sms_request(body: Any) -> None:
    """422 (problem+json) naming the field, for the SMS API's ``variables`` and ``text``."""
    for name, value in (getattr(body, "variables", None) or {}).items():
        why = number_problem(value) or (
            text_problem(value, allow_newline=False) if isinstance(value, str) else None
        )
        if why:
            raise HTTPException(422, f"variables.{name}: {why}")
    text = getattr(body, "text", None)
    if text is not None and (why := text_problem(text)):
        raise HTTPException(422, f"text: {why}")


# A mainland mobile number as callers write it: 11 digits starting 13-19, with or without +86 /
# 86 in front (kefu.channels.sms.numbers.national drops it). [0-9], not \d: the schema's
# pattern must mean the same to a client's ECMA regex as to pydantic's (Unicode \d would
# admit other scripts' digits).
MOBILE_PATTERN = r"^(\+?86)?1[3-9][0-9]{9}$"
MobileNumber = Annotated[
    str,
    Field(
        pattern=MOBILE_PATTERN,
        examples=["13812345678"],
        description="Mainland mobile number: 11 digits from 13-19, optionally +86 first.",
    ),
]

# The largest row id: ids are INTEGER columns, 32 bits on PostgreSQL. A larger one in a path
# (…/messages/99605012206078361600) overflowed the driver into a 500; bounded, it is a 422.
MAX_ID = 2**31 - 1
