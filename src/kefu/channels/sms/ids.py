"""Carrier message ids in the forms their status reports may quote them.

A submit is acknowledged with an id in one form and its report may quote another: SMPP
SMSCs answer hex and report decimal (or the reverse), CMPP ids are 64-bit integers printed
either way. Every acknowledged id is stored in each form it can take, so any report matches.
"""

from __future__ import annotations

import string

_HEX = set(string.hexdigits)


def variants(carrier_id: str) -> set[str]:
    cid = carrier_id.strip()
    forms = {cid, cid.lower()}
    if cid.isdigit():
        number = int(cid)
        forms |= {str(number), format(number, "x"), format(number, "X")}
    elif cid and set(cid) <= _HEX and len(cid) <= 16:
        number = int(cid, 16)
        forms |= {str(number), format(number, "x")}
    return {f[:64] for f in forms if f}
