"""A small mutation fuzzer for the PDU decoders.

Used by the test suite (a bounded run) and ``benchmarks/protocols_fuzz.py`` (a million
inputs per decoder). The property checked is the codec contract: any input either decodes
or raises :class:`ProtocolError` — no other exception, no hang, and no allocation beyond
the input's own size (bodies are sliced from the input, lengths are checked first).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ProtocolError
from .fields import Counted, CStr, Fixed, Int, LenBytes, Raw, TLVs, Triple, body_codecs

_PRINTABLE = bytes(range(0x20, 0x7F))


def random_value(codec: object, rng: random.Random) -> Any:
    """A random value that ``codec`` can encode (for seeding the fuzzer)."""
    if isinstance(codec, Int):
        return rng.randint(0, codec.max)
    if isinstance(codec, Fixed | CStr):
        size = codec.size if isinstance(codec, Fixed) else codec.max_size - 1
        return bytes(rng.choices(_PRINTABLE, k=rng.randint(0, size))).decode()
    if isinstance(codec, Raw):
        return rng.randbytes(codec.size)
    if isinstance(codec, LenBytes):
        return rng.randbytes(rng.randint(0, min(codec.max_size, codec.prefix.max)))
    if isinstance(codec, Counted):
        return [random_value(codec.item, rng) for _ in range(rng.randint(0, 3))]
    if isinstance(codec, Triple):
        return tuple(rng.getrandbits(32) for _ in range(3))
    if isinstance(codec, TLVs):
        return {
            rng.getrandbits(16): rng.randbytes(rng.randint(0, 8)) for _ in range(rng.randint(0, 3))
        }
    raise TypeError(f"no generator for {codec!r}")


def random_pdu(cls: type, rng: random.Random) -> Any:
    """An instance of a PDU class with every body field filled at random."""
    return cls(**{name: random_value(codec, rng) for name, codec in body_codecs(cls)})


@dataclass
class FuzzResult:
    inputs: int = 0
    decoded: int = 0
    rejected: int = 0
    crashes: list[tuple[bytes, str]] = field(default_factory=list)


def _mutate(rng: random.Random, seed: bytes, command_ids: Sequence[int]) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and data:  # flip bits
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # truncate
            del data[rng.randrange(len(data)) :]
        elif op == 2:  # append garbage
            data += rng.randbytes(rng.randint(1, 32))
        elif op == 3 and len(data) >= 4:  # lie in the length field, then fix it half the time
            struct.pack_into(">I", data, 0, rng.choice((0, 1, len(data) + 1, 0xFFFFFFFF,
                                                        rng.getrandbits(32))))  # fmt: skip
        elif op == 4 and len(data) >= 8:  # another command id
            struct.pack_into(">I", data, 4, rng.choice((*command_ids, rng.getrandbits(32))))
        elif op == 5 and data:  # overwrite a run with an extreme byte
            i = rng.randrange(len(data))
            data[i : i + rng.randint(1, 8)] = bytes([rng.choice((0, 0xFF, 0x7F))]) * 8
        elif op == 6 and data:  # delete a run
            i = rng.randrange(len(data))
            del data[i : i + rng.randint(1, 16)]
        elif op == 7 and data:  # insert a run
            i = rng.randrange(len(data))
            data[i:i] = rng.randbytes(rng.randint(1, 16))
    if len(data) >= 4 and rng.random() < 0.5:
        struct.pack_into(">I", data, 0, len(data))  # keep the frame self-consistent
    return bytes(data)


def fuzz(
    decode: Callable[[bytes], Any],
    seeds: Sequence[bytes],
    command_ids: Sequence[int],
    count: int,
    rng_seed: int = 0,
    header_size: int = 12,
) -> FuzzResult:
    """Feed ``count`` random and mutated inputs to ``decode``; collect any crash."""
    rng = random.Random(rng_seed)
    result = FuzzResult()
    for i in range(count):
        kind = i % 4
        if kind == 0:  # pure random bytes
            data = rng.randbytes(rng.randint(0, 64))
        elif kind == 1:  # a plausible header with a random body
            body = rng.randbytes(rng.randint(0, 300))
            head = struct.pack(">II", header_size + len(body), rng.choice(command_ids))
            data = head + rng.randbytes(header_size - 8) + body
        else:
            data = _mutate(rng, rng.choice(seeds), command_ids)
        result.inputs += 1
        try:
            decode(data)
            result.decoded += 1
        except ProtocolError:
            result.rejected += 1
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
            if len(result.crashes) < 20:
                result.crashes.append((data, f"{type(exc).__name__}: {exc}"))
    return result
