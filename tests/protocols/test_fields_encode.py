"""The body encoder packs adjacent integers together; it must write exactly what encoding
field by field writes, and refuse the same values with the same error."""

from __future__ import annotations

import random

import pytest

from kefu.protocols import fields, fuzz
from kefu.protocols.cmpp import pdus as cmpp_pdus
from kefu.protocols.errors import FieldTooLong
from kefu.protocols.sgip import pdus as sgip_pdus
from kefu.protocols.smgp import pdus as smgp_pdus
from kefu.protocols.smpp import pdus as smpp_pdus

TABLES = [smpp_pdus.PDU_CLASSES, sgip_pdus.PDU_CLASSES, smgp_pdus.PDU_CLASSES,
          cmpp_pdus.CMPP2.classes, cmpp_pdus.CMPP3.classes]  # fmt: skip
CLASSES = sorted(
    {cls for table in TABLES for cls in table.values()}
    | {cmpp_pdus.CMPP2.report, cmpp_pdus.CMPP3.report},
    key=lambda cls: (cls.__module__, cls.__name__),
)


def one_by_one(pdu: object) -> bytes:
    out = bytearray()
    for name, codec in fields.body_codecs(type(pdu)):
        codec.encode(getattr(pdu, name), out)
    return bytes(out)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_packed_body_equals_field_by_field(cls: type) -> None:
    rng = random.Random(cls.__name__)
    for _ in range(50):
        pdu = fuzz.random_pdu(cls, rng)
        out = bytearray()
        fields.encode_body(pdu, out)
        assert bytes(out) == one_by_one(pdu)


def test_out_of_range_integer_in_a_packed_run_names_the_value() -> None:
    pdu = smpp_pdus.SubmitSm(destination_addr="13800138000", short_message=b"hi")
    assert len(fields.body_encoders(smpp_pdus.SubmitSm)) < len(
        fields.body_codecs(smpp_pdus.SubmitSm)
    )
    pdu.priority_flag = 256
    with pytest.raises(FieldTooLong, match="256 does not fit in 1 octets"):
        fields.encode_body(pdu, bytearray())
    pdu.priority_flag = -1
    with pytest.raises(FieldTooLong, match="-1 does not fit"):
        fields.encode_body(pdu, bytearray())
