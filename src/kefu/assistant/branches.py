"""PD: the branches nearest the customer with their predicted waits, and ``PD n``: a remote
ticket at the n-th branch of that list (issue #17).

The list is ``nearest_waits`` (distance order, so "the second" is the same branch each time it
is asked). ``PD 1`` names its city as ``PD`` does (``PD 深圳 1``), else the city of the last
``PD`` answer (kept in the dialog), else the bound customer's city. A service word picks the
queue (``PD 1 开户``); cash without one. Only a phone number takes a ticket here: the ticket is
keyed ``phone:<number>`` (one open ticket a day) and its "3 ahead" notice comes by SMS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kefu.branch.services import SERVICES

_PD = re.compile(r"^pd(?![a-z])\s*(.*)$")
# Words that name a service in "PD 1 开户" (normalised, simplified text); the first wins.
SERVICE_WORDS: tuple[tuple[str, str], ...] = (
    ("开户", "account"),
    ("理财", "wealth"),
    ("对公", "business"),
    ("银行卡", "card"),
    ("办卡", "card"),
    ("补卡", "card"),
    ("现金", "cash"),
    ("存款", "cash"),
    ("取款", "cash"),
)
_FILLER = re.compile(r"[\s,，。.、:：;；#＃第个家号]|网点|取号|排队|业务")
MAX_PICK = 99


@dataclass(frozen=True)
class PdRequest:
    pick: int | None  # the n-th branch of the list; None: show the list
    service: str  # a code of kefu.branch.services.SERVICES
    bad: bool = False  # an argument that is not a number ("PD abc", "PD 1a")


def parse(text: str, city_text: str | None) -> PdRequest:
    """What a branch-queue message asks, from normalised ``text``; ``city_text`` is the city
    slot's words (removed before the rest is read)."""
    service = next((code for word, code in SERVICE_WORDS if word in text), "cash")
    m = _PD.match(text)
    if m is None:  # "深圳哪个网点排队少" and other free text: the list
        return PdRequest(None, service)
    rest = m.group(1)
    if city_text:
        rest = rest.replace(city_text, " ")
    for word, _code in SERVICE_WORDS:
        rest = rest.replace(word, " ")
    rest = _FILLER.sub("", rest)
    if not rest:
        return PdRequest(None, service)
    if rest.isdigit() and rest.isascii():
        return PdRequest(min(int(rest), MAX_PICK + 1), service)
    if re.search(r"[0-9a-z]", rest):
        return PdRequest(None, service, bad=True)
    return PdRequest(None, service)  # other words ("PD 南山"): the list, asking the city


def service_label(code: str) -> str:
    return SERVICES[code].label
