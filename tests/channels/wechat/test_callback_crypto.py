"""kefu's own unwrapping of WeChat's AES envelope, against the published WXBizMsgCrypt vector
(as wechatpy's test-suite carries it) and against tampering wechatpy would let through."""

from __future__ import annotations

import base64
import socket
import struct

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.crypto.cryptography import WeChatCipher

from kefu.channels.wechat import crypto
from kefu.channels.wechat.crypto import CallbackRejected

# The WXBizMsgCrypt sample: token, EncodingAESKey, id, and a message encrypted with them.
TOKEN = "123456"
KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APP_ID = "wx49f0ab532d5d035a"
ENCRYPTED = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTye"
    "DXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolB"
    "ug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZ"
    "lF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTr"
    "b++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
MSG_SIGNATURE, TIMESTAMP, NONCE = (
    "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
    "1411525903",
    "461056294",
)


def test_the_official_vector_decrypts() -> None:
    crypto.check_msg_signature(TOKEN, MSG_SIGNATURE, TIMESTAMP, NONCE, ENCRYPTED)
    message = xmltodict.parse(crypto.decrypt(KEY, APP_ID, ENCRYPTED))["xml"]
    assert message["Content"] == "test" and message["FromUserName"] == "messense"


def test_the_vector_with_another_signature_or_appid_is_refused() -> None:
    with pytest.raises(CallbackRejected, match="msg_signature"):
        crypto.check_msg_signature(TOKEN, MSG_SIGNATURE, TIMESTAMP, "461056295", ENCRYPTED)
    with pytest.raises(CallbackRejected, match="another AppID"):
        crypto.decrypt(KEY, "wx0000000000000000", ENCRYPTED)


def test_a_reply_encrypted_by_kefu_decrypts_with_wechatpy() -> None:
    envelope = crypto.encrypt_reply(TOKEN, KEY, APP_ID, "<xml><Content>好</Content></xml>", "n1")
    fields = xmltodict.parse(envelope)["xml"]
    plain = WeChatCrypto(TOKEN, KEY, APP_ID).decrypt_message(
        envelope, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    )
    assert "好" in plain


def _encrypt_raw(body: bytes) -> str:
    key = crypto.aes_key(KEY)
    return base64.b64encode(WeChatCipher(key).encrypt(body)).decode()


def _framed(xml: bytes, app_id: bytes = APP_ID.encode(), length: int | None = None) -> bytes:
    size = struct.pack(b"I", socket.htonl(len(xml) if length is None else length))
    return b"0123456789abcdef" + size + xml + app_id


def _pad(body: bytes) -> bytes:
    n = 32 - len(body) % 32
    return body + bytes([n]) * n


def test_kefu_checks_the_padding_wechatpy_does_not() -> None:
    good = _pad(_framed(b"<xml>hi</xml>"))
    assert crypto.decrypt(KEY, APP_ID, _encrypt_raw(good)) == "<xml>hi</xml>"
    broken = good[:-2] + bytes([good[-1] - 1, good[-1]])  # last bytes disagree
    with pytest.raises(CallbackRejected, match="PKCS#7"):
        crypto.decrypt(KEY, APP_ID, _encrypt_raw(broken))
    zero = good[:-1] + b"\x00"
    with pytest.raises(CallbackRejected, match="PKCS#7"):
        crypto.decrypt(KEY, APP_ID, _encrypt_raw(zero))
    # wechatpy's own decoder accepts the broken padding without a word — the reason kefu
    # unwraps the envelope itself.
    from wechatpy.crypto import PrpCrypto

    assert PrpCrypto(crypto.aes_key(KEY)).decrypt(_encrypt_raw(broken), APP_ID) == "<xml>hi</xml>"


@pytest.mark.parametrize(
    ("encrypted", "rule"),
    [
        ("***not base64***", "base64"),
        (base64.b64encode(b"x" * 20).decode(), "AES blocks"),
        (None, "length exceeds"),
    ],
)
def test_malformed_envelopes_are_refused(encrypted: str | None, rule: str) -> None:
    if encrypted is None:
        encrypted = _encrypt_raw(_pad(_framed(b"<xml/>", length=4096)))
    with pytest.raises(CallbackRejected, match=rule):
        crypto.decrypt(KEY, APP_ID, encrypted)


def test_timestamps_outside_the_window_are_refused() -> None:
    crypto.check_timestamp("1000", 300, now=1200)
    with pytest.raises(CallbackRejected, match="off"):
        crypto.check_timestamp("1000", 300, now=1400)
    with pytest.raises(CallbackRejected, match="Unix seconds"):
        crypto.check_timestamp("12ab", 300, now=1000)
