"""Protocol-neutral messages: what a client sends, and what either side receives.

Links (one per protocol) translate these to and from PDUs; the reassembly and text decoding
around them is shared so all four protocols behave the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field

from . import text as textcodec
from .errors import ProtocolError
from .udh import Concat, Reassembler, concat_udh, split_udh


@dataclass
class OutMessage:
    """A text to send. ``encoding`` None picks the cheapest the protocol allows."""

    dest: str
    text: str
    source: str = ""
    encoding: str | None = None
    want_report: bool = True
    ref16: bool = False  # 16-bit concatenation reference instead of 8-bit
    use_sar: bool = False  # SMPP only: SAR TLVs instead of a UDH


@dataclass
class Part:
    """One received segment before reassembly."""

    source: str
    dest: str
    encoding: str
    body: bytes
    concat: Concat | None = None
    message_id: str = ""


@dataclass
class Inbound:
    """A mobile-originated message or a status report handed to the application."""

    kind: str  # "mo" or "report"
    source: str
    dest: str
    text: str = ""
    message_id: str = ""  # report: the id the submit was acknowledged with
    stat: str = ""
    delivered: bool = False
    parts: int = 1
    message_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Segment:
    """An encoded segment ready for a submit/deliver PDU."""

    payload: bytes  # body, prefixed by the UDH when ``udhi``
    udhi: bool
    concat: Concat | None
    encoding: str


_refs = itertools.count(1)


def segments(msg: OutMessage, allowed: tuple[str, ...], sar: bool = False) -> list[Segment]:
    """Encode and split ``msg``; with ``sar`` the caller carries the concat info in TLVs."""
    if msg.encoding:
        encoding, bodies = msg.encoding, textcodec.split(msg.text, msg.encoding, msg.ref16)
    else:
        encoding, bodies = textcodec.choose_and_split(msg.text, allowed, msg.ref16)
    if len(bodies) == 1:
        return [Segment(bodies[0], False, None, encoding)]
    if len(bodies) > 255:
        raise ProtocolError("a text longer than 255 parts cannot be concatenated")
    ref = next(_refs) & (0xFFFF if msg.ref16 or sar else 0xFF)
    total = len(bodies)
    out = []
    for seq, body in enumerate(bodies, 1):
        concat = Concat(ref, total, seq)
        if sar:
            out.append(Segment(body, False, concat, encoding))
        else:
            out.append(
                Segment(concat_udh(ref, total, seq, msg.ref16) + body, True, concat, encoding)
            )
    return out


def part_from_payload(
    source: str, dest: str, encoding: str, payload: bytes, udhi: bool, message_id: str = ""
) -> Part:
    concat, body = split_udh(payload) if udhi else (None, payload)
    return Part(source, dest, encoding, body, concat, message_id)


class Assembler:
    """Turns parts into whole texts, however they arrive."""

    def __init__(self, timeout: float = 120.0, max_groups: int = 10_000) -> None:
        self.reassembler = Reassembler(timeout=timeout, max_groups=max_groups)
        self._ids: dict[Hashable, list[str]] = {}

    def add(self, part: Part) -> Inbound | None:
        if part.concat is None or part.concat.total == 1:
            text = textcodec.decode(part.body, part.encoding)
            return Inbound("mo", part.source, part.dest, text, message_ids=[part.message_id])
        key = (part.source, part.dest)
        id_key = (key, part.concat.ref, part.concat.total)
        ids = self._ids.setdefault(id_key, [])
        if part.message_id not in ids:
            ids.append(part.message_id)
        bodies = self.reassembler.add(key, part.concat, part.body)
        if bodies is None:
            return None
        self._ids.pop(id_key, None)
        # Decode after joining: a character may legally straddle two GBK/UCS2 parts.
        text = textcodec.decode(b"".join(bodies), part.encoding)
        return Inbound("mo", part.source, part.dest, text, parts=len(bodies), message_ids=ids)

    def expire(self) -> list:
        stale = self.reassembler.expire()
        for item in stale:
            self._ids.pop((item.key, item.ref, item.total), None)
        return stale
