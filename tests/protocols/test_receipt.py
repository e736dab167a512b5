import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.protocols.errors import ProtocolError
from kefu.protocols.receipt import STATES, Receipt, format_receipt, parse_receipt

DIGITS = st.text("0123456789", min_size=10, max_size=10)
ID = st.text("0123456789abcdef", min_size=1, max_size=20).map(str.encode)


@given(ID, st.sampled_from(STATES), st.text("0123456789", min_size=3, max_size=3), DIGITS,
       DIGITS, st.binary(max_size=20).filter(lambda b: b"\n" not in b))  # fmt: skip
def test_text_receipt_round_trip(mid, stat, err, submit, done, text):
    r = Receipt(mid, stat, err, submit, done, text=text)
    assert parse_receipt(format_receipt(r)) == r


def test_parses_a_typical_smsc_receipt():
    raw = (b"id:0123456789 sub:001 dlvrd:001 submit date:2603151200 done date:2603151201 "
           b"stat:DELIVRD err:000 text:Your code is 1234")  # fmt: skip
    r = parse_receipt(raw)
    assert (r.message_id, r.stat, r.done_date, r.delivered) == (b"0123456789", "DELIVRD",
                                                                "2603151201", True)  # fmt: skip


def test_smgp_style_keys_are_accepted():
    raw = b"id:ABCDEFGHIJ sub:001 dlvrd:000 Submit_date:2603151200 done_date:2603151201 Stat:UNDELIV Err:001 Txt:x"
    r = parse_receipt(raw, fixed_id_len=10)
    assert r.message_id == b"ABCDEFGHIJ" and r.stat == "UNDELIV" and not r.delivered


@pytest.mark.parametrize("raw", [b"", b"hello", b"id:1 sub:001", b"id:\xff"])
def test_not_a_receipt(raw):
    with pytest.raises(ProtocolError):
        parse_receipt(raw)
