import hashlib
import random
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.protocols import auth
from kefu.protocols.errors import BadEncoding, BadLength, TruncatedPDU
from kefu.protocols.fuzz import fuzz, random_pdu
from kefu.protocols.receipt import Receipt, format_receipt, parse_receipt
from kefu.protocols.smgp import pdus as p
from kefu.protocols.smgp.ids import MsgIdFactory, make_msg_id, split_msg_id

from ..strategies import pdu


@pytest.mark.parametrize("cls", list(p.PDU_CLASSES.values()), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(cls, data):
    original = data.draw(pdu(cls))
    assert p.decode(p.encode(original)) == original


def test_login_sizes_and_timestamp_example():
    # SMGP 3.0 Login: TimeStamp is MMDDHHMMSS as a right-aligned 10-digit integer (the
    # spec's definition; this worked date is ours, the spec text was not at hand), so
    # 1 March 08:05:09 is 0301080509, carried as the integer 301080509.
    ts = auth.timestamp(datetime(2026, 3, 1, 8, 5, 9))
    assert ts == 301080509
    login = p.Login(client_id="10001", authenticator_client=b"\1" * 16, login_mode=2,
                    timestamp=ts, client_version=0x30)  # fmt: skip
    raw = p.encode(login)
    assert len(raw) == 12 + 8 + 16 + 1 + 4 + 1
    assert raw[12 + 8 + 16 + 1 : 12 + 8 + 16 + 1 + 4] == (301080509).to_bytes(4, "big")
    # The hash uses the zero-padded text form of the timestamp.
    expected = hashlib.md5(b"10001" + b"\0" * 7 + b"secret" + b"0301080509").digest()
    assert auth.smgp_authenticator_client("10001", "secret", ts) == expected
    server = hashlib.md5(b"\0\0\0\0" + expected + b"secret").digest()
    assert auth.smgp_authenticator_server(0, expected, "secret") == server


def test_msg_id_is_bcd():
    mid = make_msg_id(123456, datetime(2026, 11, 29, 19, 30), 42)
    assert len(mid) == 10
    assert mid.hex() == "12345611291930000042"
    assert split_msg_id(mid) == (123456, "11291930", 42)
    with pytest.raises(BadEncoding):
        split_msg_id(b"\xff" * 10)
    factory = MsgIdFactory(1)
    assert len({factory.next() for _ in range(500)}) == 500


def test_report_body_round_trip_with_binary_id():
    mid = b"\x12\x20\x00 \x00\x01id:\x00"  # spaces and NULs inside the binary id
    body = format_receipt(Receipt(mid, "DELIVRD", "000", "2611291930", "2611291931"), 10)
    back = parse_receipt(body, fixed_id_len=10)
    assert back.message_id == mid and back.stat == "DELIVRD" and back.delivered


def test_tlvs_follow_reserve():
    raw = p.encode(p.Submit(dest_term_ids=["1"], tlvs={p.TAG_TP_UDHI: b"\x01"}))
    assert raw.endswith(b"\x00\x02\x00\x01\x01")
    truncated = raw[:-1]
    truncated = len(truncated).to_bytes(4, "big") + truncated[4:]
    with pytest.raises(BadLength):
        p.decode(truncated)


def test_malformed():
    raw = p.encode(p.LoginResp())
    with pytest.raises(BadLength):
        p.decode(raw[:13])
    with pytest.raises(TruncatedPDU):  # Status needs 4 octets, 1 is there
        p.decode((13).to_bytes(4, "big") + raw[4:13])


def test_bounded_fuzz():
    rng = random.Random(11)
    seeds = [p.encode(random_pdu(c, rng)) for c in p.PDU_CLASSES.values() for _ in range(3)]
    result = fuzz(p.decode, seeds, list(p.PDU_CLASSES), 4000, header_size=p.HEADER_SIZE)
    assert result.crashes == [] and result.rejected > 0 and result.decoded > 0


def test_msg_id_vector_from_go_smgp():
    # yedamao/go_smgp msgID_test.go: these 10 octets print as "01006101161700012345"
    raw = bytes([0x01, 0x00, 0x61, 0x01, 0x16, 0x17, 0x00, 0x01, 0x23, 0x45])
    assert raw.hex() == "01006101161700012345"
    assert split_msg_id(raw) == (10061, "01161700", 12345)
