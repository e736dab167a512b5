"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, six digits) as a second
factor for staff sign-in (issue 21, "staff sign-in that banks expect").

Any authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP, 企业微信's)
reads the ``otpauth://`` URI or the base32 secret. A code is accepted one step either side of
now (clock drift), and never twice: the step last used is stored, so a code seen over a
shoulder or in a proxy log cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

import segno
from markupsafe import Markup

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps either side of now


def new_secret() -> str:
    """160 random bits, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def verify(secret: str, code: str, moment: datetime, last_step: int | None) -> int | None:
    """The step ``code`` belongs to, or None when it is wrong, too old, or already used."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = step_at(moment)
    for step in range(now - WINDOW, now + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue  # used already (or older than the last code used)
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode()):
            return step
    return None


def provisioning_uri(secret: str, username: str, issuer: str = "kefu") -> str:
    label = quote(f"{issuer}:{username}")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": STEP_SECONDS})  # fmt: skip
    return f"otpauth://totp/{label}?{query}"


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it in by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str) -> Markup:
    """The ``otpauth://`` URI as an inline SVG QR code, for the enrolment page: scanned by the
    phone's authenticator app, nothing leaves the page (no image service, no file). segno draws
    paths only, no text from the URI, so the markup is safe to inline."""
    code = segno.make(uri, error="m")
    return Markup(code.svg_inline(scale=4, light="#fff", svgclass="totp-qr"))
