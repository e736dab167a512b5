import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.protocols import text as t
from kefu.protocols.errors import BadEncoding

GSM_CHARS = st.sampled_from(list(t.GSM_BASIC.replace("\x1b", "")) + list(t.GSM_EXTENSION.values()))


@given(st.text(GSM_CHARS, max_size=400))
def test_gsm_round_trip(text):
    assert t.gsm_decode(t.gsm_encode(text)) == text


@given(st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_septet_packing_round_trip(septets, fill):
    packed = t.pack_septets(septets, fill)
    assert len(packed) == (len(septets) * 7 + fill + 7) // 8
    assert t.unpack_septets(packed, len(septets), fill) == septets


def test_pack_known_vector():
    # GSM 03.38 worked example: "hellohello" packs to E8329BFD4697D9EC37
    assert t.pack_septets(t.gsm_encode("hellohello")).hex().upper() == "E8329BFD4697D9EC37"


def test_extension_characters_cost_two_septets():
    assert t.gsm_encode("€") == b"\x1b\x65"
    assert t.gsm_encode("{") == b"\x1b\x28"


def test_not_gsm_raises():
    with pytest.raises(BadEncoding):
        t.gsm_encode("你")
    with pytest.raises(BadEncoding):
        t.gsm_decode(b"\x80")
    with pytest.raises(BadEncoding):
        t.decode(b"\xd8\x00", t.UCS2)  # lone surrogate
    with pytest.raises(BadEncoding):
        t.decode(b"\xff\xff", t.GBK)


@pytest.mark.parametrize(
    ("text", "allowed", "expected"),
    [
        ("Balance 100", (t.GSM7, t.LATIN1, t.UCS2), t.GSM7),
        ("Café à 5€", (t.GSM7, t.LATIN1, t.UCS2), t.GSM7),
        ("naïve ©", (t.GSM7, t.LATIN1, t.UCS2), t.LATIN1),  # © is not GSM
        ("余额查询", (t.GSM7, t.LATIN1, t.UCS2), t.UCS2),
        ("查询", (t.ASCII, t.UCS2, t.GBK), t.UCS2),  # tie: the earlier (more compatible) one
        ("查3月账单 card 6222", (t.ASCII, t.UCS2, t.GBK), t.GBK),  # GBK keeps ASCII at 1 octet
        ("hello", (t.ASCII, t.UCS2, t.GBK), t.ASCII),
    ],
)
def test_choose_cheapest(text, allowed, expected):
    assert t.choose_encoding(text, allowed) == expected


def test_nothing_fits():
    with pytest.raises(BadEncoding):
        t.choose_encoding("你", (t.GSM7, t.LATIN1))


@pytest.mark.parametrize(
    ("encoding", "single", "part"),
    [(t.GSM7, 160, 153), (t.UCS2, 140, 134), (t.GBK, 140, 134), (t.LATIN1, 140, 134)],
)
def test_capacities(encoding, single, part):
    assert t.SINGLE_CAPACITY[encoding] == single
    assert t.segment_capacity(encoding) == part
    assert t.segment_capacity(encoding, ref16=True) == part - 1


def test_split_boundaries():
    assert len(t.split("a" * 160, t.GSM7)) == 1
    parts = t.split("a" * 161, t.GSM7)
    assert [len(x) for x in parts] == [153, 8]
    assert len(t.split("好" * 70, t.UCS2)) == 1
    assert [len(x) for x in t.split("好" * 71, t.UCS2)] == [134, 8]


@given(st.text(min_size=1, max_size=600))
def test_split_never_cuts_a_character(text):
    parts = t.split(text, t.UCS2)
    assert "".join(t.decode(p, t.UCS2) for p in parts) == text
    assert all(len(p) <= (140 if len(parts) == 1 else 134) for p in parts)


@given(st.text(GSM_CHARS, min_size=1, max_size=600))
def test_split_keeps_escapes_whole(text):
    parts = t.split(text, t.GSM7)
    assert "".join(t.gsm_decode(p) for p in parts) == text
