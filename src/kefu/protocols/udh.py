"""User Data Header concatenation (GSM 03.40 IE 0x00 / 0x08) and reassembly of long messages.

The reassembler is shared by every receiving side (our clients for MO, our simulators for
MT). It tolerates parts arriving out of order or twice, bounds its memory, and reports groups
whose missing parts never came after a timeout, so nothing waits forever.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from .errors import ProtocolError

IE_CONCAT_8 = 0x00
IE_CONCAT_16 = 0x08


@dataclass(frozen=True)
class Concat:
    """Position of one part within a concatenated message."""

    ref: int
    total: int
    seq: int


def concat_udh(ref: int, total: int, seq: int, ref16: bool = False) -> bytes:
    """UDH (including its length octet) for part ``seq`` of ``total``."""
    if ref16:
        return bytes([6, IE_CONCAT_16, 4, (ref >> 8) & 0xFF, ref & 0xFF, total, seq])
    return bytes([5, IE_CONCAT_8, 3, ref & 0xFF, total, seq])


def split_udh(payload: bytes) -> tuple[Concat | None, bytes]:
    """Separate a UDH from the text; returns the concat info if the UDH carries one."""
    if not payload:
        raise ProtocolError("UDHI set but the message is empty")
    udhl = payload[0]
    if 1 + udhl > len(payload):
        raise ProtocolError(f"UDH length {udhl} exceeds the message ({len(payload)} octets)")
    ies, body = payload[1 : 1 + udhl], payload[1 + udhl :]
    concat = None
    pos = 0
    while pos < len(ies):
        if pos + 2 > len(ies):
            raise ProtocolError("truncated information element in UDH")
        iei, iel = ies[pos], ies[pos + 1]
        data = ies[pos + 2 : pos + 2 + iel]
        if len(data) != iel:
            raise ProtocolError("information element runs past the UDH")
        if iei == IE_CONCAT_8 and iel == 3:
            concat = Concat(data[0], data[1], data[2])
        elif iei == IE_CONCAT_16 and iel == 4:
            concat = Concat((data[0] << 8) | data[1], data[2], data[3])
        pos += 2 + iel
    if concat and not (1 <= concat.seq <= concat.total):
        raise ProtocolError(f"part {concat.seq} of {concat.total} is out of range")
    return concat, body


@dataclass
class _Group:
    total: int
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Incomplete:
    """A message whose parts stopped arriving; reported instead of waiting forever."""

    key: Hashable
    ref: int
    total: int
    received: tuple[int, ...]


class Reassembler:
    """Collects parts keyed by (sender, recipient, ref) until a message is whole."""

    def __init__(
        self,
        timeout: float = 120.0,
        max_groups: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.max_groups = max_groups
        self.clock = clock
        self._groups: dict[tuple[Hashable, int, int], _Group] = {}
        # Parts of recently completed messages: a late duplicate of one of them must not
        # open a new group (it would never complete). A *different* body under the same
        # reference is a new message that reuses the reference, and is accepted.
        self._done: OrderedDict[tuple[Hashable, int, int], dict[int, bytes]] = OrderedDict()
        self.incomplete: list[Incomplete] = []

    def add(self, key: Hashable, concat: Concat, body: bytes) -> list[bytes] | None:
        """Store one part; returns the ordered bodies once every part has arrived."""
        if concat.total == 1:
            return [body]
        gkey = (key, concat.ref, concat.total)
        group = self._groups.get(gkey)
        if group is None:
            finished = self._done.get(gkey)
            if finished is not None and finished.get(concat.seq) == body:
                return None  # late duplicate of a message already delivered
            self.expire()
            if len(self._groups) >= self.max_groups:
                # Evict the oldest group rather than grow without bound.
                oldest = min(self._groups, key=lambda k: self._groups[k].started)
                self._report(oldest, self._groups.pop(oldest))
            group = self._groups[gkey] = _Group(concat.total, self.clock())
        group.parts.setdefault(concat.seq, body)  # a duplicate part changes nothing
        if len(group.parts) < group.total:
            return None
        del self._groups[gkey]
        self._done[gkey] = group.parts
        self._done.move_to_end(gkey)
        while len(self._done) > self.max_groups:
            self._done.popitem(last=False)
        return [group.parts[i] for i in range(1, group.total + 1)]

    def expire(self) -> list[Incomplete]:
        """Drop groups older than the timeout; returns (and records) them."""
        now = self.clock()
        stale = [k for k, g in self._groups.items() if now - g.started > self.timeout]
        return [self._report(k, self._groups.pop(k)) for k in stale]

    def _report(self, gkey: tuple[Hashable, int, int], group: _Group) -> Incomplete:
        item = Incomplete(gkey[0], gkey[1], group.total, tuple(sorted(group.parts)))
        self.incomplete.append(item)
        del self.incomplete[: -self.max_groups]
        return item

    def __len__(self) -> int:
        return len(self._groups)
