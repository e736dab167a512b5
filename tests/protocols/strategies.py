"""Hypothesis strategies derived from the PDU field declarations themselves."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from kefu.protocols.fields import (
    Counted,
    CStr,
    Fixed,
    Int,
    LenBytes,
    Raw,
    TLVs,
    Triple,
    body_codecs,
)

# Printable ASCII without NUL: NUL terminates/pads strings on the wire by definition.
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
U32 = st.integers(0, 0xFFFFFFFF)


def for_codec(codec: Any) -> st.SearchStrategy[Any]:
    if isinstance(codec, Int):
        return st.integers(0, codec.max)
    if isinstance(codec, Fixed):
        return st.text(ASCII, max_size=codec.size)
    if isinstance(codec, CStr):
        return st.text(ASCII, max_size=codec.max_size - 1)
    if isinstance(codec, Raw):
        return st.binary(min_size=codec.size, max_size=codec.size)
    if isinstance(codec, LenBytes):
        return st.binary(max_size=min(codec.max_size, codec.prefix.max))
    if isinstance(codec, Counted):
        return st.lists(for_codec(codec.item), max_size=min(codec.max_count, 4))
    if isinstance(codec, Triple):
        return st.tuples(U32, U32, U32)
    if isinstance(codec, TLVs):
        return st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=16), max_size=4)
    raise TypeError(codec)


def pdu(cls: type, **header: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Every body field random; ``sequence`` random unless given."""
    fields = {name: for_codec(codec) for name, codec in body_codecs(cls)}
    seq_default = {f.name: f.default for f in dataclasses.fields(cls)}["sequence"]
    fields.setdefault(
        "sequence", st.tuples(U32, U32, U32) if isinstance(seq_default, tuple) else U32
    )
    fields.update(header)
    return st.builds(cls, **fields)
