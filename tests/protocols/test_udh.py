import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.protocols.errors import ProtocolError
from kefu.protocols.message import Assembler, OutMessage, part_from_payload, segments
from kefu.protocols.text import GBK, UCS2
from kefu.protocols.udh import Concat, Reassembler, concat_udh, split_udh


def test_udh_8_and_16_bit():
    assert concat_udh(0x2A, 3, 1) == bytes.fromhex("0500032a0301")
    assert concat_udh(0x1234, 3, 2, ref16=True) == bytes.fromhex("06080412340302")
    assert split_udh(concat_udh(0x1234, 3, 2, True) + b"hi") == (Concat(0x1234, 3, 2), b"hi")
    assert split_udh(concat_udh(7, 2, 2) + b"x") == (Concat(7, 2, 2), b"x")


@pytest.mark.parametrize("bad", [b"", b"\x09\x00\x03", bytes.fromhex("0500030103"),
                                 bytes.fromhex("050003010300")])  # fmt: skip
def test_bad_udh(bad):
    with pytest.raises(ProtocolError):
        split_udh(bad)


def test_unknown_ie_is_skipped():
    payload = bytes.fromhex("090102aabb00030c0201") + b"x"
    assert split_udh(payload)[0] == Concat(0x0C, 2, 1)


@given(st.permutations(range(1, 6)), st.lists(st.integers(1, 5), max_size=5))
def test_out_of_order_and_duplicates(order, dups):
    r = Reassembler()
    bodies = {i: f"p{i}".encode() for i in range(1, 6)}
    feed = list(order)
    for d in dups:
        feed.insert(feed.index(d) + 1, d)  # a duplicate right after its original
    results = [r.add("k", Concat(9, 5, i), bodies[i]) for i in feed]
    done = [x for x in results if x is not None]
    assert done == [[bodies[i] for i in range(1, 6)]]
    assert len(r) == 0


def test_missing_part_times_out():
    now = [0.0]
    r = Reassembler(timeout=10, clock=lambda: now[0])
    assert r.add("k", Concat(1, 3, 1), b"a") is None
    assert r.add("k", Concat(1, 3, 3), b"c") is None
    now[0] = 11
    expired = r.expire()
    assert len(expired) == 1 and expired[0].received == (1, 3) and expired[0].total == 3
    assert len(r) == 0
    # a late part starts a new group instead of completing the expired one
    assert r.add("k", Concat(1, 3, 2), b"b") is None


def test_memory_is_bounded():
    r = Reassembler(max_groups=100)
    for ref in range(1000):
        r.add(("a", "b"), Concat(ref & 0xFFFF, 2, 1), b"x")
    assert len(r) <= 100
    assert len(r.incomplete) <= 100


@pytest.mark.parametrize("ref16", [False, True])
@pytest.mark.parametrize("encoding", [UCS2, GBK])
def test_assembler_end_to_end(ref16, encoding):
    text = "您本月账单金额为人民币壹仟贰佰元整，请于25日前还款。" * 6
    segs = segments(OutMessage("138", text, "95511", encoding=encoding, ref16=ref16), (encoding,))
    assert len(segs) > 1
    asm = Assembler()
    results = [asm.add(part_from_payload("95511", "138", encoding, s.payload, True, str(i)))
               for i, s in enumerate(reversed(segs))]  # fmt: skip
    assert results[:-1] == [None] * (len(segs) - 1)
    assert results[-1].text == text and results[-1].parts == len(segs)
