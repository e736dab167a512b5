"""SMGP 3.0 MsgID: 10 octets of BCD — SMGW code (6 digits), MMDDHHMM (8), sequence (6)."""

from __future__ import annotations

from datetime import datetime

from ..errors import BadEncoding, FieldTooLong


def to_bcd(digits: str) -> bytes:
    if len(digits) % 2 or not digits.isdigit() or not digits.isascii():
        raise FieldTooLong(f"{digits!r} is not an even run of decimal digits")
    return bytes.fromhex(digits)


def from_bcd(data: bytes) -> str:
    text = data.hex()
    if not text.isdigit():
        raise BadEncoding(f"{text} is not BCD")
    return text


def make_msg_id(smgw: int, when: datetime, sequence: int) -> bytes:
    if not (0 <= smgw < 10**6 and 0 <= sequence < 10**6):
        raise FieldTooLong("SMGW code and sequence must have at most 6 digits")
    return to_bcd(f"{smgw:06d}{when:%m%d%H%M}{sequence:06d}")


def split_msg_id(msg_id: bytes) -> tuple[int, str, int]:
    """(SMGW code, MMDDHHMM, sequence) of a BCD MsgID."""
    text = from_bcd(msg_id)
    if len(text) != 20:
        raise BadEncoding("an SMGP MsgID has 10 octets")
    return int(text[:6]), text[6:14], int(text[14:])


class MsgIdFactory:
    def __init__(self, smgw: int) -> None:
        self.smgw = smgw % 10**6
        self._seq = 0

    def next(self, now: datetime | None = None) -> bytes:
        self._seq = (self._seq + 1) % 10**6
        return make_msg_id(self.smgw, now or datetime.now(), self._seq)
