import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.protocols.errors import BadLength, TruncatedPDU, UnknownCommand
from kefu.protocols.fuzz import fuzz, random_pdu
from kefu.protocols.sgip import pdus as p
from kefu.protocols.sgip.link import sequence_text

from ..strategies import pdu


@pytest.mark.parametrize("cls", list(p.PDU_CLASSES.values()), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(cls, data):
    original = data.draw(pdu(cls))
    raw = p.encode(original)
    assert int.from_bytes(raw[:4], "big") == len(raw)
    assert p.decode(raw) == original


def test_fixed_sizes_from_the_spec():
    assert len(p.encode(p.Bind())) == 20 + 1 + 16 + 16 + 8
    assert len(p.encode(p.BindResp())) == 20 + 1 + 8
    assert len(p.encode(p.Report())) == 20 + 12 + 1 + 21 + 1 + 1 + 8
    submit = p.encode(p.Submit(user_numbers=["8613000000000"], message_content=b"hi"))
    # 21+21+1+21*1+5+10+1+6+6+1+1+1+16+16+1+1+1+1+1 + 4 (MessageLength) + 2 + 8
    assert len(submit) == 20 + 21 + 21 + 1 + 21 + 5 + 10 + 1 + 6 + 6 + 3 + 32 + 5 + 4 + 2 + 8


def test_sequence_number_is_three_words():
    raw = p.encode(p.Unbind(sequence=(3000012345, 1129120000, 7)))
    assert (
        raw[8:20]
        == (3000012345).to_bytes(4, "big") + (1129120000).to_bytes(4, "big") + b"\0\0\0\x07"
    )
    assert sequence_text((3000012345, 1129120000, 7)) == "3000012345-1129120000-7"


def test_malformed():
    with pytest.raises(TruncatedPDU):
        p.decode(b"\0" * 10)
    with pytest.raises(UnknownCommand):
        p.decode(bytes.fromhex("0000001400001234") + b"\0" * 12)
    raw = bytearray(p.encode(p.Deliver(message_content=b"abc")))
    raw[20 + 21 + 21 + 3 : 20 + 21 + 21 + 3 + 4] = (10**6).to_bytes(4, "big")  # MessageLength
    with pytest.raises(BadLength):
        p.decode(bytes(raw))


def test_bounded_fuzz():
    rng = random.Random(7)
    seeds = [p.encode(random_pdu(c, rng)) for c in p.PDU_CLASSES.values() for _ in range(3)]
    result = fuzz(p.decode, seeds, list(p.PDU_CLASSES), 4000, header_size=p.HEADER_SIZE)
    assert result.crashes == [] and result.rejected > 0 and result.decoded > 0
