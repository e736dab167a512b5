"""A small declarative layer for binary PDU bodies.

Each PDU is a dataclass whose fields carry a *codec* in their metadata; the body is the
concatenation of those codecs in declaration order. One generic encoder/decoder then serves
all four protocols, and property tests can derive strategies from the same declarations.
Codecs validate as they read so a malformed body raises a typed error, never an IndexError,
and every length is checked against both the remaining bytes and a fixed maximum before any
allocation.
"""

from __future__ import annotations

import dataclasses
import operator
import struct
from collections.abc import Callable
from typing import Any, ClassVar

from .errors import BadEncoding, BadLength, FieldTooLong, TruncatedPDU


class Codec:
    """Encodes one field value into a bytearray and decodes it back."""

    def encode(self, value: Any, out: bytearray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[Any, int]:  # pragma: no cover
        raise NotImplementedError

    def default(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class Int(Codec):
    """Unsigned big-endian integer of 1, 2, 4 or 8 octets."""

    _FMT: ClassVar[dict[int, str]] = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}

    def __init__(self, size: int) -> None:
        self.size = size
        self._st = struct.Struct(self._FMT[size])
        self.max = (1 << (8 * size)) - 1

    def encode(self, value: int, out: bytearray) -> None:
        if not 0 <= value <= self.max:
            raise FieldTooLong(f"{value} does not fit in {self.size} octets")
        out += self._st.pack(value)

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[int, int]:
        nxt = pos + self.size
        if nxt > end:
            raise TruncatedPDU(f"integer at {pos} needs {self.size} octets")
        return self._st.unpack_from(buf, pos)[0], nxt

    def default(self) -> int:
        return 0


U8, U16, U32, U64 = Int(1), Int(2), Int(4), Int(8)


def _ascii(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadEncoding(f"non-ASCII octets in text field: {raw[:32]!r}") from exc


class Fixed(Codec):
    """Fixed-width ASCII octet string, NUL-padded on the right (the Chinese protocols' style)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def encode(self, value: str, out: bytearray) -> None:
        raw = value.encode("ascii")
        if len(raw) > self.size:
            raise FieldTooLong(f"{value!r} longer than {self.size} octets")
        out += raw
        out += b"\0" * (self.size - len(raw))

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[str, int]:
        nxt = pos + self.size
        if nxt > end:
            raise TruncatedPDU(f"{self.size}-octet string at {pos} runs past the body")
        raw = buf[pos:nxt]
        cut = raw.find(b"\0")
        return _ascii(raw if cut < 0 else raw[:cut]), nxt

    def default(self) -> str:
        return ""


class Raw(Codec):
    """Fixed-width opaque octets (authenticators, binary message ids)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def encode(self, value: bytes, out: bytearray) -> None:
        if len(value) != self.size:
            raise FieldTooLong(f"expected exactly {self.size} octets, got {len(value)}")
        out += value

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
        nxt = pos + self.size
        if nxt > end:
            raise TruncatedPDU(f"{self.size}-octet field at {pos} runs past the body")
        return bytes(buf[pos:nxt]), nxt

    def default(self) -> bytes:
        return b"\0" * self.size


class CStr(Codec):
    """SMPP C-Octet String: ASCII terminated by NUL; ``max_size`` counts the NUL."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size

    def encode(self, value: str, out: bytearray) -> None:
        raw = value.encode("ascii")
        if len(raw) + 1 > self.max_size or b"\0" in raw:
            raise FieldTooLong(f"{value!r} does not fit a C-string of {self.max_size}")
        out += raw
        out += b"\0"

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[str, int]:
        # Only look as far as the field may extend, so a missing NUL cannot scan the world.
        cut = buf.find(b"\0", pos, min(end, pos + self.max_size))
        if cut < 0:
            raise TruncatedPDU(f"C-string at {pos} has no NUL within {self.max_size} octets")
        return _ascii(buf[pos:cut]), cut + 1

    def default(self) -> str:
        return ""


class LenBytes(Codec):
    """Octets preceded by their length in a ``prefix``-octet integer (sm_length, Msg_Length)."""

    def __init__(self, prefix: Int, max_size: int) -> None:
        self.prefix = prefix
        self.max_size = max_size

    def encode(self, value: bytes, out: bytearray) -> None:
        if len(value) > self.max_size:
            raise FieldTooLong(f"{len(value)} octets exceed the maximum {self.max_size}")
        self.prefix.encode(len(value), out)
        out += value

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
        size, pos = self.prefix.decode(buf, pos, end)
        if size > self.max_size:
            raise BadLength(f"content length {size} exceeds the maximum {self.max_size}")
        nxt = pos + size
        if nxt > end:
            raise TruncatedPDU(f"content of {size} octets runs past the body")
        return bytes(buf[pos:nxt]), nxt

    def default(self) -> bytes:
        return b""


class Counted(Codec):
    """A list of ``item`` preceded by its count (CMPP DestUsr_tl, SGIP UserCount)."""

    def __init__(self, prefix: Int, item: Codec, max_count: int) -> None:
        self.prefix = prefix
        self.item = item
        self.max_count = max_count

    def encode(self, value: list[Any], out: bytearray) -> None:
        if len(value) > self.max_count:
            raise FieldTooLong(f"{len(value)} items exceed the maximum {self.max_count}")
        self.prefix.encode(len(value), out)
        for item in value:
            self.item.encode(item, out)

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[list[Any], int]:
        count, pos = self.prefix.decode(buf, pos, end)
        if count > self.max_count:
            raise BadLength(f"count {count} exceeds the maximum {self.max_count}")
        items = []
        for _ in range(count):
            item, pos = self.item.decode(buf, pos, end)
            items.append(item)
        return items, pos

    def default(self) -> list[Any]:
        return []


class Triple(Codec):
    """Three 32-bit integers (SGIP's sequence number: node id, MMDDHHMMSS, counter)."""

    _ST = struct.Struct(">III")

    def encode(self, value: tuple[int, int, int], out: bytearray) -> None:
        try:
            out += self._ST.pack(*value)
        except struct.error as exc:
            raise FieldTooLong(str(exc)) from exc

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[tuple[int, int, int], int]:
        if pos + 12 > end:
            raise TruncatedPDU("12-octet sequence number runs past the body")
        return self._ST.unpack_from(buf, pos), pos + 12

    def default(self) -> tuple[int, int, int]:
        return (0, 0, 0)


class TLVs(Codec):
    """Tag-length-value parameters filling the rest of the body (SMPP optional, SMGP TLV)."""

    _ST = struct.Struct(">HH")

    def encode(self, value: dict[int, bytes], out: bytearray) -> None:
        for tag, data in value.items():
            if not 0 <= tag <= 0xFFFF or len(data) > 0xFFFF:
                raise FieldTooLong(f"TLV 0x{tag:04x} does not fit")
            out += self._ST.pack(tag, len(data))
            out += data

    def decode(self, buf: bytes, pos: int, end: int) -> tuple[dict[int, bytes], int]:
        found: dict[int, bytes] = {}
        while pos < end:
            if pos + 4 > end:
                raise TruncatedPDU(f"TLV header at {pos} runs past the body")
            tag, size = self._ST.unpack_from(buf, pos)
            pos += 4
            if pos + size > end:
                raise BadLength(f"TLV 0x{tag:04x} declares {size} octets, body has {end - pos}")
            found[tag] = bytes(buf[pos : pos + size])
            pos += size
        return found, pos

    def default(self) -> dict[int, bytes]:
        return {}


def f(codec: Codec) -> Any:
    """Declare a body field carried by ``codec`` with the codec's neutral default."""
    default = codec.default()
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=type(default), metadata={"codec": codec})
    return dataclasses.field(default=default, metadata={"codec": codec})


def body_codecs(cls: type) -> list[tuple[str, Codec]]:
    """The (name, codec) pairs of a PDU class, cached on the class."""
    cached = cls.__dict__.get("_body_codecs")
    if cached is None:
        cached = [
            (fl.name, fl.metadata["codec"])
            for fl in dataclasses.fields(cls)
            if "codec" in fl.metadata
        ]
        cls._body_codecs = cached  # type: ignore[attr-defined]
    return cached


Step = tuple[Callable[[Any], Any], Callable[[Any, bytearray], None]]


def _ints_encoder(run: list[Int]) -> Callable[[tuple[int, ...], bytearray], None]:
    """One struct.pack for a run of adjacent integer fields (SMPP's TON/NPI/esm_class...)."""
    packer = struct.Struct(">" + "".join(codec._FMT[codec.size][1] for codec in run)).pack

    def encode(values: tuple[int, ...], out: bytearray) -> None:
        try:
            out += packer(*values)
        except struct.error:
            for codec, value in zip(run, values, strict=True):
                codec.encode(value, out)  # raises the field's own FieldTooLong

    return encode


def body_encoders(cls: type) -> list[Step]:
    """The body's encoding steps (read the value, write it), cached on the class: adjacent
    integers are read and packed together, which roughly halves the cost of encoding a
    submit (SMPP's has a dozen one-octet fields)."""
    cached = cls.__dict__.get("_body_encoders")
    if cached is None:
        cached = []
        names: list[str] = []
        run: list[Int] = []
        for name, codec in [*body_codecs(cls), ("", Codec())]:  # a sentinel closes the last run
            if type(codec) is Int:
                names.append(name)
                run.append(codec)
                continue
            if len(run) > 1:
                cached.append((operator.attrgetter(*names), _ints_encoder(run)))
            elif run:
                cached.append((operator.attrgetter(names[0]), run[0].encode))
            names, run = [], []
            if name:
                cached.append((operator.attrgetter(name), codec.encode))
        cls._body_encoders = cached  # type: ignore[attr-defined]
    return cached


def encode_body(pdu: Any, out: bytearray) -> None:
    for read, write in body_encoders(type(pdu)):
        write(read(pdu), out)


def decode_body(cls: type, buf: bytes, pos: int, end: int) -> dict[str, Any]:
    """Decode the body of ``cls`` from ``buf[pos:end]``; the whole body must be consumed."""
    values: dict[str, Any] = {}
    for name, codec in body_codecs(cls):
        values[name], pos = codec.decode(buf, pos, end)
    if pos != end:
        raise BadLength(f"{cls.__name__}: {end - pos} unexpected octets after the last field")
    return values
