"""Signed, expiring values for the H5 pages: the follower's session cookie, the OAuth2
``state``, and the pending binding carried between the two binding forms.

Each value is an itsdangerous URL-safe timed token (HMAC-SHA256, timestamped when signed)
holding the fields and the value's lifetime, keyed by the settings' secret and salted with a
purpose, so a value signed for one purpose is useless for another. Fields never contain "|"
(openids, account names and mobiles are validated before signing; a "|" means a bug).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

__all__ = ["BadSignature", "sign", "unsign"]


class _Clock(TimestampSigner):
    """A timestamp signer whose clock the tests can set (``now``)."""

    def __init__(self, *args: Any, now: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now

    def get_timestamp(self) -> int:
        return int(time.time() if self.now is None else self.now)


def _serializer(secret: str, purpose: str, now: float | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret, salt=purpose, signer=_Clock,
        signer_kwargs={"digest_method": hashlib.sha256, "now": now},
    )  # fmt: skip


def sign(
    secret: str, purpose: str, fields: list[str], *, ttl: int, now: float | None = None
) -> str:
    """``fields``, valid for ``ttl`` seconds from now."""
    if any("|" in f for f in fields):
        raise ValueError("signed fields may not contain '|'")
    return _serializer(secret, purpose, now).dumps([*fields, ttl])


def unsign(secret: str, purpose: str, value: str, *, now: float | None = None) -> list[str]:
    """The fields of a value :func:`sign` made for ``purpose``, if it is not older than the
    lifetime signed into it. Raises :class:`BadSignature` (tampered with, signed for
    something else, malformed; :class:`SignatureExpired`: too old)."""
    serializer = _serializer(secret, purpose, now)
    payload, signed_at = serializer.loads(value, return_timestamp=True)
    if not isinstance(payload, list) or not payload or not isinstance(payload[-1], int):
        raise BadSignature("malformed")
    *fields, ttl = payload
    age = (time.time() if now is None else now) - signed_at.timestamp()
    if age > ttl:
        raise SignatureExpired(f"signature age {age:.0f} > {ttl} seconds", payload, signed_at)
    return [str(f) for f in fields]
