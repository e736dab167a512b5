"""Signed, expiring values for the H5 pages: the follower's session cookie, the OAuth2
``state``, and the pending binding carried between the two binding forms.

Each value is ``base64url(fields joined by "|") . base64url(HMAC-SHA256)``, keyed by the
settings' secret and a purpose, so a value signed for one purpose is useless for another.
Openids, account names and mobiles never contain "|" (each is validated before signing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time


class BadSignature(ValueError):
    """Tampered with, signed for something else, malformed or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose.encode() + b"\0" + payload, hashlib.sha256).digest()


def sign(
    secret: str, purpose: str, fields: list[str], *, ttl: int, now: float | None = None
) -> str:
    """``fields`` plus an expiry ``ttl`` seconds from now."""
    expires = int((now if now is not None else time.time()) + ttl)
    if any("|" in f for f in fields):
        raise ValueError("signed fields may not contain '|'")
    payload = "|".join([*fields, str(expires)]).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, purpose, payload))}"


def unsign(secret: str, purpose: str, value: str, *, now: float | None = None) -> list[str]:
    """The fields of a value :func:`sign` made for ``purpose``, if it has not expired."""
    try:
        body, mac = value.split(".", 1)
        payload, given = _unb64(body), _unb64(mac)
    except (ValueError, binascii.Error):
        raise BadSignature("malformed") from None
    if not hmac.compare_digest(given, _mac(secret, purpose, payload)):
        raise BadSignature("bad signature")
    *fields, expires = payload.decode().split("|")
    if int(expires) < (now if now is not None else time.time()):
        raise BadSignature("expired")
    return fields
