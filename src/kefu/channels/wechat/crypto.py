"""WeChat's callback security: the request signature, the message signature, and the AES
envelope of compatible/safe mode (WXBizMsgCrypt).

The cipher and signer are wechatpy's; unwrapping the plaintext is ours, because wechatpy strips
the PKCS#7 padding without checking it (a tampered or truncated ciphertext would decrypt to
garbage and a wrong length instead of being refused). Every failure is a ``CallbackRejected``
with a reason the callback turns into a clear 4xx.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import socket
import struct
import time

from wechatpy.crypto import WeChatCrypto
from wechatpy.crypto.cryptography import WeChatCipher
from wechatpy.utils import WeChatSigner

BLOCK = 32  # WeChat pads to 32 bytes (not AES's 16)


class CallbackRejected(Exception):
    """A callback request kefu refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _same(expected: str, given: str | None) -> bool:
    # Compared as UTF-8 bytes: compare_digest refuses non-ASCII str with a TypeError, and the
    # signature is whatever the query string held (a fuzzed "é" was a 500 instead of a 403).
    return hmac.compare_digest(expected.encode(), (given or "").encode("utf-8", "replace"))


def check_signature(token: str, signature: str, timestamp: str, nonce: str) -> None:
    if not _same(sign(token, timestamp, nonce), signature):
        raise CallbackRejected("signature does not match the token", 403)


def check_msg_signature(
    token: str, msg_signature: str, timestamp: str, nonce: str, encrypted: str
) -> None:
    if not _same(sign(token, timestamp, nonce, encrypted), msg_signature):
        raise CallbackRejected("msg_signature does not match the encrypted message", 403)


def check_timestamp(timestamp: str, window: int, now: float | None = None) -> None:
    """Replay protection: WeChat signs the timestamp, so an old (or future) one is refused."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise CallbackRejected("timestamp must be Unix seconds")
    skew = abs((now if now is not None else time.time()) - int(timestamp))
    if skew > window:
        raise CallbackRejected(f"timestamp is {int(skew)} s off (window {window} s)", 403)


def aes_key(encoding_aes_key: str) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def unpad(plain: bytes) -> bytes:
    """Strips PKCS#7 padding (block 32), refusing anything that is not valid padding."""
    if not plain or len(plain) % 16:
        raise CallbackRejected("decrypted message has a broken length")
    count = plain[-1]
    if not 1 <= count <= BLOCK or count > len(plain):
        raise CallbackRejected("decrypted message has invalid PKCS#7 padding")
    if plain[-count:] != bytes([count]) * count:
        raise CallbackRejected("decrypted message has invalid PKCS#7 padding")
    return plain[:-count]


def decrypt(encoding_aes_key: str, app_id: str, encrypted: str) -> str:
    """The plaintext XML of an ``Encrypt`` element: AES-256-CBC (IV = key[:16]) over
    random(16) ‖ length(4, big-endian) ‖ xml ‖ appid, PKCS#7-padded to 32 bytes."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackRejected("Encrypt is not base64") from None
    if not raw or len(raw) % 16:
        raise CallbackRejected("Encrypt is not a whole number of AES blocks")
    body = unpad(WeChatCipher(aes_key(encoding_aes_key)).decrypt(raw))
    if len(body) < 20:
        raise CallbackRejected("decrypted message is too short")
    (length,) = struct.unpack(b"I", body[16:20])
    length = socket.ntohl(length)
    if 20 + length > len(body):
        raise CallbackRejected("decrypted message length exceeds its content")
    xml, from_app = body[20 : 20 + length], body[20 + length :]
    if from_app != app_id.encode():
        raise CallbackRejected("encrypted for another AppID", 403)
    try:
        return xml.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackRejected("decrypted message is not UTF-8") from None


def encrypt_reply(token: str, encoding_aes_key: str, app_id: str, xml: str, nonce: str) -> str:
    """The encrypted, signed envelope of a passive reply (wechatpy builds it)."""
    return WeChatCrypto(token, encoding_aes_key, app_id).encrypt_message(xml, nonce)
