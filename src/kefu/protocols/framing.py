"""Cutting a TCP byte stream into PDUs.

All four protocols start every PDU with a 4-octet big-endian total length that includes
itself, so one splitter serves them all. The length is checked against the protocol's
header size and a maximum *before* waiting for the body: a peer cannot make us buffer an
arbitrarily large frame by lying in the length field.
"""

from __future__ import annotations

import asyncio

from .errors import BadLength, PDUTooLarge


def peer_host(writer: asyncio.StreamWriter) -> str:
    """The remote address of a connection (its host only: ports change per connection)."""
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if peer else ""


def split_frames(buf: bytearray, min_len: int, max_len: int) -> list[bytes]:
    """Remove and return every complete PDU at the front of ``buf``."""
    frames: list[bytes] = []
    pos = 0
    size = len(buf)
    while size - pos >= 4:
        length = int.from_bytes(buf[pos : pos + 4], "big")
        if length < min_len:
            raise BadLength(f"PDU length {length} is below the header size {min_len}")
        if length > max_len:
            raise PDUTooLarge(f"PDU length {length} exceeds the maximum {max_len}")
        if size - pos < length:
            break
        frames.append(bytes(buf[pos : pos + length]))
        pos += length
    if pos:
        del buf[:pos]
    return frames
