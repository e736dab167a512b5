"""The two tokens of web chat.

- The **session token** kefu gives the widget: itsdangerous-signed (HMAC-SHA256 with the
  app's secret key) ``{"session", "site"}``, valid for the site's session hours. The widget
  sends it as ``Authorization: Bearer`` (and as ``?token=`` on the SSE URL, which
  EventSource cannot give headers).
- The **customer token** the bank's web site gives its signed-in customer: a JWT (RFC 7519)
  with ``sub`` = the bank's customer number, ``aud`` = the site's audience, ``exp`` at most
  ``MAX_CUSTOMER_TOKEN_SECONDS`` after ``iat``, signed with the site's key (HS256 shared
  secret, or RS256/ES256 with kefu holding the public key). Verified with PyJWT.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from kefu.channels.webchat.config import WebchatSite

MAX_CUSTOMER_TOKEN_SECONDS = 3600  # a customer token is short-lived: minutes, not days
CUSTOMER_NO_MAX = 32


class TokenError(Exception):
    """A token was missing, malformed, forged, expired or for another site (401)."""


@dataclass(frozen=True)
class SessionClaim:
    session: str
    site: str


class SessionTokens:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="kefu-webchat-session")

    def issue(self, session: str, site: str) -> str:
        return self._serializer.dumps({"session": session, "site": site})

    def verify(self, token: str, *, site: WebchatSite) -> SessionClaim:
        try:
            data = self._serializer.loads(token, max_age=int(site.session_hours * 3600))
        except SignatureExpired:
            raise TokenError("the session token has expired; start a new session") from None
        except BadSignature:
            raise TokenError("the session token is not valid") from None
        if not isinstance(data, dict) or data.get("site") != site.name:
            raise TokenError("the session token is for another site")
        return SessionClaim(str(data["session"]), site.name)


def verify_customer_token(token: str, site: WebchatSite) -> str:
    """The bank customer number a valid customer token names."""
    if not site.customer_token_key:
        raise TokenError(f"site {site.name!r} does not accept customer tokens")
    try:
        claims = jwt.decode(
            token,
            site.customer_token_key,
            algorithms=[site.customer_token_algorithm],  # never the token's own choice
            audience=site.customer_token_audience,
            issuer=site.customer_token_issuer or None,
            options={"require": ["exp", "iat", "sub", "aud"]},
            leeway=30,
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"the customer token is not valid: {exc}") from None
    if int(claims["exp"]) - int(claims["iat"]) > MAX_CUSTOMER_TOKEN_SECONDS:
        raise TokenError(f"the customer token lives longer than {MAX_CUSTOMER_TOKEN_SECONDS} s")
    customer_no = str(claims["sub"])
    if not customer_no or len(customer_no) > CUSTOMER_NO_MAX or not customer_no.isprintable():
        raise TokenError("the customer token's sub is not a customer number")
    return customer_no


def issue_customer_token(site: WebchatSite, customer_no: str, *, now: int, ttl: int = 600) -> str:
    """What the bank's site does (HS256 only): the demo page and `kefu webchat token` use it."""
    if site.customer_token_algorithm != "HS256":
        raise TokenError("kefu can only mint HS256 tokens (the private key stays with the bank)")
    claims = {"sub": customer_no, "aud": site.customer_token_audience, "iat": now,
              "exp": now + ttl}  # fmt: skip
    if site.customer_token_issuer:
        claims["iss"] = site.customer_token_issuer
    return jwt.encode(claims, site.customer_token_key, algorithm="HS256")
