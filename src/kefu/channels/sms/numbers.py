"""Mainland mobile numbers as the SMS channel stores them: 11 digits, no country code."""

from __future__ import annotations

import re

MOBILE = re.compile(r"^1[3-9]\d{9}$")


def national(number: str) -> str:
    """Drops the +86 / 86 country code that carriers and callers sometimes put in front."""
    n = number.strip().removeprefix("+")
    return n[2:] if len(n) == 13 and n.startswith("86") else n


def is_mobile(number: str) -> bool:
    return bool(MOBILE.match(number))
