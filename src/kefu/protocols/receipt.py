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


def parse_receipt(data: bytes, fixed_id_len: int | None = None) -> Receipt:
    if fixed_id_len is not None:
        # A binary id may contain spaces or NULs, so take it by length, not by pattern.
        if len(data) < 3 + fixed_id_len or data[:3].lower() != b"id:":
            raise ProtocolError("not a delivery receipt")
        msg_id = data[3 : 3 + fixed_id_len]
        data = b"id:X" + data[3 + fixed_id_len :]
    m = _PATTERN.match(data)
    if not m:
        raise ProtocolError("not a delivery receipt")
    try:
        return Receipt(
            message_id=msg_id if fixed_id_len is not None else m["id"],
            stat=m["stat"].decode("ascii"),
            err=m["err"].decode("ascii"),
            submit_date=m["submit"].decode("ascii"),
            done_date=m["done"].decode("ascii"),
            sub=m["sub"].decode("ascii"),
            dlvrd=m["dlvrd"].decode("ascii"),
            text=m["text"] or b"",
        )
    except UnicodeDecodeError as exc:
        raise ProtocolError("receipt fields are not ASCII") from exc
