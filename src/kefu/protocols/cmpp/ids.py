"""The CMPP 64-bit Msg_Id: time, gateway and counter packed into one integer.

Layout (most significant first): month 4 bits, day 5, hour 5, minute 6, second 6,
gateway (ISMG) code 22 bits, sequence 16 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import FieldTooLong


@dataclass(frozen=True)
class MsgId:
    month: int
    day: int
    hour: int
    minute: int
    second: int
    gateway: int
    sequence: int

    _WIDTHS = (4, 5, 5, 6, 6, 22, 16)

    def pack(self) -> int:
        value = 0
        parts = (self.month, self.day, self.hour, self.minute, self.second)
        for part, width in zip((*parts, self.gateway, self.sequence), self._WIDTHS, strict=True):
            if not 0 <= part < (1 << width):
                raise FieldTooLong(f"{part} does not fit {width} bits of a CMPP Msg_Id")
            value = (value << width) | part
        return value

    @classmethod
    def unpack(cls, value: int) -> MsgId:
        parts = []
        for width in reversed(cls._WIDTHS):
            parts.append(value & ((1 << width) - 1))
            value >>= width
        return cls(*reversed(parts))


class MsgIdFactory:
    """Issues unique ids for one gateway: the 16-bit counter wraps within the second."""

    def __init__(self, gateway: int) -> None:
        self.gateway = gateway & 0x3FFFFF
        self._seq = 0

    def next(self, now: datetime | None = None) -> int:
        now = now or datetime.now()
        self._seq = (self._seq + 1) & 0xFFFF
        return MsgId(
            now.month, now.day, now.hour, now.minute, now.second, self.gateway, self._seq
        ).pack()
