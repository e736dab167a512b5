"""Issue 21, item 4: coverage-guided fuzzing (hypothesis) of the WeChat callback's parsers:
whatever arrives, the parser answers a message or refuses it (CallbackRejected, a 4xx),
never another exception (a 500)."""

from __future__ import annotations

import base64
import contextlib
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu.channels.wechat import crypto, messages
from tests.channels.wechat.harness import client, running

FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event",
          "EventKey", "Latitude", "Longitude", "Precision", "Location_X", "Location_Y", "Scale",
          "Label", "MediaId", "PicUrl", "Format", "Recognition", "Title", "Url", "Ticket",
          "Encrypt", "ThumbMediaId"]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        [
            "text",
            "event",
            "image",
            "voice",
            "location",
            "link",
            "video",
            "subscribe",
            "unsubscribe",
            "CLICK",
            "VIEW",
            "LOCATION",
            "SCAN",
            "subscribe_scan",
            "1700000000",
            "-1",
            "1e309",
            "nan",
            "inf",
            "",
            " ",
        ]
    ),  # fmt: skip
    st.text(max_size=40),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def _escape(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")


@st.composite
def wechat_xml(draw) -> str:  # type: ignore[no-untyped-def]
    names = draw(st.lists(st.sampled_from(FIELDS) | st.text(min_size=1, max_size=8,
                 alphabet=st.characters(min_codepoint=65, max_codepoint=122)), max_size=12))  # fmt: skip
    body = "".join(
        f"<{n}><![CDATA[{_escape(draw(VALUES))}]]></{n}>" if draw(st.booleans())
        else f"<{n}>{draw(VALUES).replace('<', '').replace('&', '')}</{n}>"
        for n in names
    )  # fmt: skip
    return f"<xml>{body}</xml>"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(wechat_xml(), st.text(max_size=200)))
def test_the_message_parser_answers_or_refuses(xml: str) -> None:
    with contextlib.suppress(crypto.CallbackRejected):
        messages.parse(xml)


KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
                 st.text(max_size=100)))  # fmt: skip
def test_decryption_answers_or_refuses(encrypted: str) -> None:
    with contextlib.suppress(crypto.CallbackRejected):
        crypto.decrypt(KEY, "wx0000000000000001", encrypted)


# Found by the coverage-guided run (tests/security/fuzz_targets.py, target wechat_crypto): a
# signature with a non-ASCII character made hmac.compare_digest raise TypeError, a 500.
CRASH_SIGNATURE = "000000000000000000\xaa000000000000000000000"


def test_a_non_ascii_msg_signature_is_refused_not_a_crash() -> None:
    with pytest.raises(crypto.CallbackRejected) as refused:
        crypto.check_msg_signature("kefutoken", CRASH_SIGNATURE, "1700000000", "nonce", "HVmy")
    assert refused.value.status == 403
    with pytest.raises(crypto.CallbackRejected):
        crypto.check_signature("kefutoken", "é" * 40, "1700000000", "nonce")


@pytest.mark.db
async def test_the_callback_answers_403_to_a_non_ascii_signature(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        ts = str(int(time.time()))
        params = {"signature": CRASH_SIGNATURE, "timestamp": ts, "nonce": "1", "echostr": "e"}
        answer = await http.get(kefu.target().url, params=params)
        assert answer.status_code == 403 and "signature" in answer.json()["detail"]
