"""The textual delivery-receipt format (SMPP 3.4 Appendix B, reused by SMGP 3.0).

``id:XXXX sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
err:000 text:...`` — SMGP carries the same keys with its 10-octet binary id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ProtocolError

STATES = ("DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD")

_PATTERN = re.compile(
    rb"id:(?P<id>.+?) sub:(?P<sub>\S*) dlvrd:(?P<dlvrd>\S*) submit[ _]date:(?P<submit>\S*) "
    rb"done[ _]date:(?P<done>\S*) stat:(?P<stat>\S*) err:(?P<err>\S*)(?: te?xt:(?P<text>.*))?",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Receipt:
    message_id: bytes
    stat: str
    err: str = "000"
    submit_date: str = ""
    done_date: str = ""
    sub: str = "001"
    dlvrd: str = "001"
    text: bytes = b""

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"


def format_receipt(r: Receipt, fixed_id_len: int | None = None) -> bytes:
    if fixed_id_len is not None and len(r.message_id) != fixed_id_len:
        raise ProtocolError(f"receipt id must be {fixed_id_len} octets")
    return (
        b"id:"
        + r.message_id
        + f" sub:{r.sub} dlvrd:{r.dlvrd} submit date:{r.submit_date} "
        f"done date:{r.done_date} stat:{r.stat} err:{r.err} text:".encode("ascii")
        + r.text[:20]
    )


# SMGP 3.0 fixes every field's position (id 10 octets, then " sub:" 3, " dlvrd:" 3,
# " submit date:" 10, " done date:" 10, " stat:" 7, " err:" 3, " text:" 20). Some gateways
# put other separators or spellings in the labels ("sSubmit_Date:"), so when the pattern
# fails we read the values by position and only check that each label ends with a colon.
_SMGP_LAYOUT = (("sub", 5, 3), ("dlvrd", 7, 3), ("submit", 13, 10), ("done", 11, 10),
                ("stat", 6, 7), ("err", 5, 3), ("text", 6, 20))  # fmt: skip


def _by_position(rest: bytes) -> dict[str, bytes]:
    """Field values of an SMGP receipt body (after the id) read at their fixed positions."""
    values: dict[str, bytes] = {}
    pos = 0
    for name, label, size in _SMGP_LAYOUT:
        if name == "text" and pos >= len(rest):
            values[name] = b""  # the text field is often left out
            break
        end = pos + label + size
        if (end > len(rest) and name != "text") or rest[pos + label - 1 : pos + label] != b":":
            raise ProtocolError("not a delivery receipt")
        values[name] = rest[pos + label : end]
        pos = end
    return values


def parse_receipt(data: bytes, fixed_id_len: int | None = None) -> Receipt:
    if fixed_id_len is not None:
        # A binary id may contain spaces or NULs, so take it by length, not by pattern.
        if len(data) < 3 + fixed_id_len or data[:3].lower() != b"id:":
            raise ProtocolError("not a delivery receipt")
        msg_id = data[3 : 3 + fixed_id_len]
        rest = data[3 + fixed_id_len :]
        m = _PATTERN.match(b"id:X" + rest)
        values = m.groupdict() if m else _by_position(rest)
    else:
        m = _PATTERN.match(data)
        if not m:
            raise ProtocolError("not a delivery receipt")
        values = m.groupdict()
        msg_id = values["id"]
    try:
        return Receipt(
            message_id=msg_id,
            stat=values["stat"].decode("ascii"),
            err=values["err"].decode("ascii"),
            submit_date=values["submit"].decode("ascii"),
            done_date=values["done"].decode("ascii"),
            sub=values["sub"].decode("ascii"),
            dlvrd=values["dlvrd"].decode("ascii"),
            text=values["text"] or b"",
        )
    except UnicodeDecodeError as exc:
        raise ProtocolError("receipt fields are not ASCII") from exc
