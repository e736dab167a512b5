import random
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.protocols import auth
from kefu.protocols.cmpp import pdus as p
from kefu.protocols.cmpp.ids import MsgId, MsgIdFactory
from kefu.protocols.errors import BadLength, FieldTooLong, TruncatedPDU, UnknownCommand
from kefu.protocols.fuzz import fuzz, random_pdu

from ..strategies import for_codec, pdu

DIALECTS = {"cmpp2": p.CMPP2, "cmpp3": p.CMPP3}
CASES = [(name, cls) for name, d in DIALECTS.items() for cls in d.classes.values()]

# Published vectors from bigwhite/gocmpp packet/connect_test.go: Source_Addr 900001,
# secret 888888, timestamp 1021080510, version 0x21, sequence 0x17.
GOCMPP_CONNECT = bytes.fromhex(
    "00000027000000010000001739303030303190d00c1d517abd0b4f65f6bcf8535d16213cdc73be"
)
GOCMPP_AUTH_SOURCE = bytes.fromhex("90d00c1d517abd0b4f65f6bcf8535d16")
GOCMPP_CMPP2_CONNECT_RESP = bytes.fromhex(
    "0000001e800000010000001700" "6c0b846e25bab6daa4ed1c466e0f4bd8" "21"
)  # fmt: skip
GOCMPP_CMPP3_CONNECT_RESP = bytes.fromhex(
    "000000218000000100000017" "00000000" "7942977274098cf210ab0c16c367bc8d" "30"
)  # fmt: skip


@pytest.mark.parametrize(("dialect", "cls"), CASES, ids=lambda x: getattr(x, "__name__", x))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_round_trip(dialect, cls, data):
    d = DIALECTS[dialect]
    original = data.draw(pdu(cls))
    raw = d.encode(original)
    assert d.decode(raw) == original


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_report_round_trip(dialect, data):
    d = DIALECTS[dialect]
    from kefu.protocols.fields import body_codecs

    values = {n: data.draw(for_codec(c)) for n, c in body_codecs(d.report)}
    report = d.report(**values)
    raw = d.encode_report(report)
    assert len(raw) == 8 + 7 + 10 + 10 + d.terminal_size + 4
    assert d.decode_report(raw) == report


def test_gocmpp_connect_vector():
    assert auth.cmpp_authenticator_source("900001", "888888", 1021080510) == GOCMPP_AUTH_SOURCE
    connect = p.Connect(sequence=0x17, source_addr="900001", authenticator_source=GOCMPP_AUTH_SOURCE,
                        version=0x21, timestamp=1021080510)  # fmt: skip
    assert p.encode(connect) == GOCMPP_CONNECT
    assert p.CMPP2.decode(GOCMPP_CONNECT) == connect


def test_gocmpp_connect_resp_vectors():
    v2 = p.CMPP2.decode(GOCMPP_CMPP2_CONNECT_RESP)
    assert v2.status == 0 and v2.version == 0x21
    assert v2.authenticator_ismg == auth.cmpp_authenticator_ismg(
        0, GOCMPP_AUTH_SOURCE, "888888", 0x21
    )
    v3 = p.CMPP3.decode(GOCMPP_CMPP3_CONNECT_RESP)
    assert v3.status == 0 and v3.version == 0x30
    assert v3.authenticator_ismg == auth.cmpp_authenticator_ismg(
        0, GOCMPP_AUTH_SOURCE, "888888", 0x30
    )
    assert p.encode(v3) == GOCMPP_CMPP3_CONNECT_RESP


def test_timestamp_is_mmddhhmmss():
    assert auth.timestamp(datetime(2026, 10, 21, 8, 5, 10)) == 1021080510
    # January keeps its leading zero in the hashed text
    a = auth.cmpp_authenticator_source("900001", "s", 102030405)
    b = auth.cmpp_authenticator_source("900001", "s", 1020304050)
    assert a != b


def test_version_field_widths_differ():
    v2 = p.encode(p.SubmitV2(dest_terminal_ids=["13800138000"], msg_content=b"x"))
    v3 = p.encode(p.SubmitV3(dest_terminal_ids=["13800138000"], msg_content=b"x"))
    # fee terminal 21→32 (+11), fee terminal type +1, dest 21→32 (+11), dest type +1,
    # Reserve 8 → LinkID 20 (+12)
    assert len(v3) - len(v2) == 11 + 1 + 11 + 1 + 12
    assert len(p.encode(p.SubmitRespV2())) == 12 + 9
    assert len(p.encode(p.SubmitRespV3())) == 12 + 12
    with pytest.raises(BadLength):  # a 3.0 response is not a 2.0 one
        p.CMPP2.decode(p.encode(p.SubmitRespV3()))


@given(st.integers(1, 12), st.integers(1, 31), st.integers(0, 23), st.integers(0, 59),
       st.integers(0, 59), st.integers(0, 2**22 - 1), st.integers(0, 0xFFFF))  # fmt: skip
def test_msg_id_packing(month, day, hour, minute, second, gateway, seq):
    mid = MsgId(month, day, hour, minute, second, gateway, seq)
    packed = mid.pack()
    assert 0 <= packed < 2**64
    assert MsgId.unpack(packed) == mid
    assert packed >> 60 == month


def test_msg_id_factory_is_unique_and_bounded():
    factory = MsgIdFactory(gateway=123456)
    now = datetime(2026, 3, 1, 12, 0, 0)
    ids = {factory.next(now) for _ in range(1000)}
    assert len(ids) == 1000
    assert MsgId.unpack(next(iter(ids))).gateway == 123456
    with pytest.raises(FieldTooLong):
        MsgId(16, 1, 1, 1, 1, 1, 1).pack()


def test_malformed():
    with pytest.raises(BadLength):  # the length field promises more than arrived
        p.CMPP3.decode(GOCMPP_CONNECT[:20])
    short = (20).to_bytes(4, "big") + GOCMPP_CONNECT[4:20]
    with pytest.raises(TruncatedPDU):  # consistent length, but the body stops mid-field
        p.CMPP3.decode(short)
    with pytest.raises(UnknownCommand):
        p.CMPP3.decode(bytes.fromhex("0000000c0000007700000001"))
    bad = bytearray(p.encode(p.SubmitV3(dest_terminal_ids=["1"], msg_content=b"hi")))
    bad[12 + 8 + 4 + 10 + 1 + 32 + 1 + 3 + 6 + 2 + 6 + 17 + 17 + 21] = 200  # DestUsr_tl
    with pytest.raises(BadLength):
        p.CMPP3.decode(bytes(bad))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_bounded_fuzz(dialect):
    d = DIALECTS[dialect]
    rng = random.Random(5)
    seeds = [d.encode(random_pdu(c, rng)) for c in d.classes.values() for _ in range(3)]
    result = fuzz(d.decode, seeds, list(d.classes), 4000, header_size=p.HEADER_SIZE)
    assert result.crashes == [] and result.rejected > 0 and result.decoded > 0


# bigwhite/gocmpp packet/submit_test.go: the same submit packed as CMPP 2.0 and 3.0
# (sequence 0x17, UCS2 "测试gocmpp submit"), and the Submit_Resp for Msg_Id 0xb2b9da8000010000.
GOCMPP_SUBMIT_FIELDS = dict(
    sequence=0x17, pk_total=1, pk_number=1, registered_delivery=1, msg_level=1,
    service_id="test", fee_user_type=2, fee_terminal_id="13500002696", msg_fmt=8,
    msg_src="900001", fee_type="02", fee_code="10", valid_time="151105131555101+", at_time="",
    src_id="900001", dest_terminal_ids=["13500002696"],
    msg_content="测试gocmpp submit".encode("utf-16-be"),
)  # fmt: skip
GOCMPP_SUBMIT_V2 = bytes.fromhex(
    "000000bd00000004000000170000000000000000010101017465737400000000"
    "0000023133353030303032363936000000000000000000000000083930303030"
    "3130323130000000003135313130353133313535353130312b00000000000000"
    "0000000000000000000000393030303031000000000000000000000000000000"
    "013133353030303032363936000000000000000000001e6d4b8bd50067006f00"
    "63006d007000700020007300750062006d006900740000000000000000"
)
GOCMPP_SUBMIT_V3 = bytes.fromhex(
    "000000e100000004000000170000000000000000010101017465737400000000"
    "0000023133353030303032363936000000000000000000000000000000000000"
    "0000000000000839303030303130323130000000003135313130353133313535"
    "353130312b000000000000000000000000000000000000393030303031000000"
    "0000000000000000000000000131333530303030323639360000000000000000"
    "00000000000000000000000000001e6d4b8bd50067006f0063006d0070007000"
    "20007300750062006d0069007400000000000000000000000000000000000000"
    "00"
)


def test_gocmpp_submit_vectors():
    v2 = p.SubmitV2(**GOCMPP_SUBMIT_FIELDS)
    v3 = p.SubmitV3(**GOCMPP_SUBMIT_FIELDS)
    assert p.encode(v2) == GOCMPP_SUBMIT_V2
    assert p.encode(v3) == GOCMPP_SUBMIT_V3
    assert p.CMPP2.decode(GOCMPP_SUBMIT_V2) == v2
    assert p.CMPP3.decode(GOCMPP_SUBMIT_V3) == v3


def test_gocmpp_submit_resp_vectors():
    v2 = bytes.fromhex("000000158000000400000017b2b9da800001000000")
    v3 = bytes.fromhex("000000188000000400000017b2b9da800001000000000000")
    r2, r3 = p.CMPP2.decode(v2), p.CMPP3.decode(v3)
    assert r2.msg_id == r3.msg_id == 12878564852733378560 and r2.result == r3.result == 0
    assert p.encode(r2) == v2 and p.encode(r3) == v3
    assert MsgId.unpack(r2.msg_id) == MsgId(11, 5, 14, 29, 42, gateway=1, sequence=0)


# bigwhite/gocmpp packet/deliver_test.go and receipt_test.go
GOCMPP_DELIVER_V3 = bytes.fromhex(
    "0000007f0000000500000001b4c5530000010000393030303031000000000000"
    "0000000000000000000000000000000000000000000031333431323334303030"
    "3000000000000000000000000000000000000000000000001254686973206973"
    "20612074657374204d4f2e0000000000000000000000000000000000000000"
)
GOCMPP_DELIVER_RESP_V3 = bytes.fromhex("000000188000000500000001b4c553000001000000000000")
GOCMPP_REPORT_V2 = bytes.fromhex(
    "b4c553000001000044454c495652443135313131323039353531353131313230"
    "39353731333431323334303030300000000000000000000012345678"
)


def test_gocmpp_deliver_and_report_vectors():
    mo = p.DeliverV3(sequence=1, msg_id=13025908756704198656, dest_id="900001",
                     src_terminal_id="13412340000", msg_content=b"This is a test MO.")  # fmt: skip
    assert p.encode(mo) == GOCMPP_DELIVER_V3 and p.CMPP3.decode(GOCMPP_DELIVER_V3) == mo
    resp = p.DeliverRespV3(sequence=1, msg_id=13025908756704198656, result=0)
    assert p.encode(resp) == GOCMPP_DELIVER_RESP_V3
    report = p.ReportV2(msg_id=13025908756704198656, stat="DELIVRD", submit_time="1511120955",
                        done_time="1511120957", dest_terminal_id="13412340000",
                        smsc_sequence=0x12345678)  # fmt: skip
    assert p.CMPP2.encode_report(report) == GOCMPP_REPORT_V2
    assert p.CMPP2.decode_report(GOCMPP_REPORT_V2) == report
