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


# Receipts captured from real SMGP gateways, published in yedamao/go_smgp's report_test.go
# (10-octet binary ids; the second gateway writes "s" where the spec has spaces).
GATEWAY_A = (b"id:\x10\x10\x05\x05\x30\x15W\x92c9 sub:001 dlvrd:001 submit date:1805301557 "
             b"done date:1805301557 stat:DELIVRD err:000 Text:fillfillfillfillfill")  # fmt: skip
GATEWAY_B = (b"id:\x05p\x13\x05\x30\x15PVu\x01sSub:001sDlvrd:000sSubmit_Date:1805301550"
             b"sDone_Date:1805301550sStat:DELIVRDsErr:000sText:fillfillfillfillfill")  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "mid", "dlvrd", "done"),
    [(GATEWAY_A, b"\x10\x10\x05\x050\x15W\x92c9", "001", "1805301557"),
     (GATEWAY_B, b"\x05p\x13\x050\x15PVu\x01", "000", "1805301550")],
)  # fmt: skip
def test_real_smgp_gateway_receipts(raw, mid, dlvrd, done):
    r = parse_receipt(raw, fixed_id_len=10)
    assert (r.message_id, r.stat, r.err, r.dlvrd, r.done_date) == (mid, "DELIVRD", "000", dlvrd,
                                                                   done)  # fmt: skip
    assert r.text == b"fillfillfillfillfill"


def test_smgp_positions_still_reject_garbage():
    with pytest.raises(ProtocolError):
        parse_receipt(b"id:0123456789" + b"x" * 120, fixed_id_len=10)


def test_receipt_parsers_fail_typed_on_garbage():
    import random

    from kefu.protocols.cmpp.pdus import CMPP2, CMPP3

    rng = random.Random(9)
    seed = GATEWAY_B
    outcomes = {"parsed": 0, "rejected": 0}
    for i in range(3000):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            data[at : at + rng.randint(0, 8)] = rng.randbytes(rng.randint(0, 8))
        blob = bytes(data) if i % 2 else rng.randbytes(rng.randint(0, 140))
        for parse in (lambda b: parse_receipt(b), lambda b: parse_receipt(b, fixed_id_len=10),
                      CMPP2.decode_report, CMPP3.decode_report):  # fmt: skip
            # anything but a ProtocolError escapes and fails the test
            try:
                parse(blob)
                outcomes["parsed"] += 1
            except ProtocolError:
                outcomes["rejected"] += 1
    assert outcomes["parsed"] + outcomes["rejected"] == 12000
    assert outcomes["parsed"] > 0 and outcomes["rejected"] > 0
