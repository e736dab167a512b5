import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.protocols.errors import (
    BadEncoding,
    BadLength,
    FieldTooLong,
    ProtocolError,
    TruncatedPDU,
    UnknownCommand,
)
from kefu.protocols.fuzz import fuzz, random_pdu
from kefu.protocols.smpp import pdus as p

from ..strategies import U32, pdu

REQUESTS = [c for c in p.PDU_CLASSES.values() if not c.command_id & p.RESPONSE_BIT]
RESPONSES = [c for c in p.PDU_CLASSES.values() if c.command_id & p.RESPONSE_BIT]


@pytest.mark.parametrize("cls", REQUESTS, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_request_round_trip(cls, data):
    original = data.draw(pdu(cls, command_status=U32))
    raw = p.encode(original)
    assert int.from_bytes(raw[:4], "big") == len(raw)
    assert p.decode(raw) == original


@pytest.mark.parametrize("cls", RESPONSES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_response_round_trip(cls, data):
    original = data.draw(pdu(cls, command_status=st.just(0)))
    assert p.decode(p.encode(original)) == original


def test_error_response_carries_no_body():
    raw = p.encode(p.SubmitSmResp(sequence=7, command_status=p.ESME_RTHROTTLED, message_id="x"))
    assert len(raw) == p.HEADER_SIZE
    decoded = p.decode(raw)
    assert decoded.command_status == p.ESME_RTHROTTLED and decoded.message_id == ""


def test_enquire_link_wire_form():
    assert p.encode(p.EnquireLink(sequence=1)).hex() == "00000010000000150000000000000001"


def test_submit_sm_known_layout():
    raw = p.encode(p.SubmitSm(sequence=2, source_addr="95511", destination_addr="8613800138000",
                              data_coding=8, short_message="你好".encode("utf-16-be")))  # fmt: skip
    body = raw[16:]
    # service_type NUL, ton, npi, "95511\0", ton, npi, "8613800138000\0", 3 flags, two empty
    # times, 4 flags, data_coding 8, default msg id, sm_length 4, the UCS2 octets
    assert body.startswith(b"\x00\x00\x0095511\x00\x00\x008613800138000\x00")
    assert body.endswith(b"\x08\x00\x04" + "你好".encode("utf-16-be"))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\x00\x00\x00", TruncatedPDU),
        (bytes.fromhex("00000011000000150000000000000001"), BadLength),  # says 17, has 16
        (bytes.fromhex("00000010000000990000000000000001"), UnknownCommand),
        (bytes.fromhex("00000014000000150000000000000001") + b"abcd", BadLength),  # extra body
        # submit_sm whose service_type never ends
        (bytes.fromhex("00000018000000040000000000000001") + b"ABCDEFGH", TruncatedPDU),
    ],
)
def test_malformed_raises_typed_error(raw, error):
    with pytest.raises(error):
        p.decode(raw)


def test_sm_length_beyond_body_is_rejected():
    raw = bytearray(p.encode(p.SubmitSm(sequence=1, short_message=b"hello")))
    raw[raw.index(b"hello") - 1] = 200  # sm_length lies
    with pytest.raises(TruncatedPDU):
        p.decode(bytes(raw))


def test_non_ascii_address_is_bad_encoding():
    raw = p.encode(p.SubmitSm(sequence=1, source_addr="abc"))
    with pytest.raises(BadEncoding):
        p.decode(raw.replace(b"abc", b"a\xffc"))


def test_oversized_field_refused_on_encode():
    with pytest.raises(FieldTooLong):
        p.encode(p.SubmitSm(destination_addr="1" * 21))


def test_bounded_fuzz_never_crashes():
    rng = random.Random(3)
    seeds = [p.encode(random_pdu(c, rng)) for c in p.PDU_CLASSES.values() for _ in range(3)]
    result = fuzz(p.decode, seeds, list(p.PDU_CLASSES), 5000, header_size=p.HEADER_SIZE)
    assert result.crashes == []
    assert result.inputs == 5000 and result.rejected > 0 and result.decoded > 0
    assert issubclass(TruncatedPDU, ProtocolError)
