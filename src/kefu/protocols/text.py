"""Text encodings used by SMS: GSM 03.38 7-bit, ASCII, Latin-1, UCS2 and GBK.

Also chooses the cheapest encoding for a text (fewest segments, then fewest octets) and
splits long texts into segments that never cut a character or a GSM escape sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .errors import BadEncoding

# GSM 03.38 default alphabet, indexed by septet value.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM_BASIC) == 128
# Characters reached through the escape septet 0x1B (GSM 03.38 extension table).
GSM_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM_ENCODE: dict[str, bytes] = {ch: bytes([i]) for i, ch in enumerate(GSM_BASIC) if i != 0x1B}
_GSM_ENCODE.update({ch: bytes([0x1B, code]) for code, ch in GSM_EXTENSION.items()})

GSM7, ASCII, LATIN1, UCS2, GBK, BINARY = "gsm7", "ascii", "latin1", "ucs2", "gbk", "binary"

# Capacity of one short message in encoding units (septets for GSM, octets otherwise).
SINGLE_CAPACITY = {GSM7: 160, ASCII: 140, LATIN1: 140, UCS2: 140, GBK: 140, BINARY: 140}


# str.translate + latin-1 is an order of magnitude faster than a per-character join.
_GSM_TRANSLATE = {ord(ch): code.decode("latin-1") for ch, code in _GSM_ENCODE.items()}
_GSM_CHARS = frozenset(_GSM_ENCODE)


def gsm_encode(text: str) -> bytes:
    """Unpacked GSM 7-bit: one septet per octet (how SMPP carries data_coding 0)."""
    if not _GSM_CHARS.issuperset(text):
        bad = next(ch for ch in text if ch not in _GSM_CHARS)
        raise BadEncoding(f"{bad!r} is not in the GSM 03.38 alphabet")
    return text.translate(_GSM_TRANSLATE).encode("latin-1")


def gsm_decode(data: bytes) -> str:
    out: list[str] = []
    escape = False
    for octet in data:
        if octet > 0x7F:
            raise BadEncoding(f"octet 0x{octet:02x} is not a GSM septet")
        if escape:
            # Unknown extension codes fall back to the basic character.
            out.append(GSM_EXTENSION.get(octet, GSM_BASIC[octet]))
            escape = False
        elif octet == 0x1B:
            escape = True
        else:
            out.append(GSM_BASIC[octet])
    if escape:
        out.append(" ")  # A trailing lone escape displays as a space per 03.38.
    return "".join(out)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack 7-bit values into octets (GSM 03.38), optionally after UDH fill bits."""
    acc = 0
    bits = fill_bits
    out = bytearray()
    for s in septets:
        acc |= (s & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Inverse of :func:`pack_septets`; ``count`` septets are read."""
    if math.ceil((count * 7 + fill_bits) / 8) > len(data):
        raise BadEncoding(f"{len(data)} octets cannot hold {count} septets")
    value = int.from_bytes(data, "little") >> fill_bits
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))


def encode(text: str, encoding: str) -> bytes:
    if encoding == GSM7:
        return gsm_encode(text)
    try:
        if encoding == UCS2:
            return text.encode("utf-16-be")
        if encoding in (ASCII, LATIN1, GBK):
            return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise BadEncoding(f"text cannot be encoded as {encoding}: {exc.reason}") from exc
    raise BadEncoding(f"unknown encoding {encoding!r}")


def decode(data: bytes, encoding: str) -> str:
    if encoding == GSM7:
        return gsm_decode(data)
    if encoding == BINARY:
        return data.hex()
    try:
        if encoding == UCS2:
            # UTF-16 is a superset of UCS2; handsets send surrogate pairs for emoji.
            return data.decode("utf-16-be")
        if encoding in (ASCII, LATIN1, GBK):
            return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadEncoding(f"octets are not valid {encoding}: {exc.reason}") from exc
    raise BadEncoding(f"unknown encoding {encoding!r}")


def segment_capacity(encoding: str, ref16: bool = False) -> int:
    """Units available for text in one part of a concatenated message."""
    udh = 7 if ref16 else 6
    if encoding == GSM7:
        return SINGLE_CAPACITY[GSM7] - math.ceil(udh * 8 / 7)
    return SINGLE_CAPACITY[encoding] - udh


def split(text: str, encoding: str, ref16: bool = False) -> list[bytes]:
    """Encode ``text`` and cut it into segment bodies (without UDH).

    A text that fits one message gives one body; otherwise every body fits a concatenated
    part. Cuts fall between characters so no escape sequence or surrogate pair is split.
    """
    whole = encode(text, encoding)
    # Units are octets, or septets for GSM, which we hold unpacked one per octet.
    if len(whole) <= SINGLE_CAPACITY[encoding]:
        return [whole]
    capacity = segment_capacity(encoding, ref16)
    parts: list[bytes] = []
    current = bytearray()
    for ch in text:
        piece = encode(ch, encoding)
        if len(current) + len(piece) > capacity:
            parts.append(bytes(current))
            current = bytearray()
        current += piece
    if current:
        parts.append(bytes(current))
    return parts


def _air_octets(units: int, encoding: str) -> int:
    """Octets on the air interface: GSM septets are packed 8 to 7 octets."""
    return math.ceil(units * 7 / 8) if encoding == GSM7 else units


def choose_encoding(text: str, allowed: Sequence[str]) -> str:
    """The allowed encoding giving the fewest parts, then the fewest octets; ties keep order."""
    return choose_and_split(text, allowed)[0]


def choose_and_split(
    text: str, allowed: Sequence[str], ref16: bool = False
) -> tuple[str, list[bytes]]:
    """:func:`choose_encoding` and the text split in it, encoded once (not once to choose
    and again to send)."""
    best: tuple[int, int, int] | None = None
    chosen = ""
    chosen_parts: list[bytes] = []
    for rank, encoding in enumerate(allowed):
        try:
            parts = split(text, encoding)
        except BadEncoding:
            continue
        if rank == 0 and len(parts) == 1 and encoding in (GSM7, ASCII):
            return encoding, parts  # one part at ≤ 1 octet per character: nothing can beat it
        key = (len(parts), _air_octets(sum(map(len, parts)), encoding), rank)
        if best is None or key < best:
            best, chosen, chosen_parts = key, encoding, parts
    if not chosen:
        raise BadEncoding(f"no encoding among {list(allowed)} can carry this text")
    if ref16 and len(chosen_parts) > 1:  # a 16-bit reference leaves less room per part
        chosen_parts = split(text, chosen, ref16)
    return chosen, chosen_parts
