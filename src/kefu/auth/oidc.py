"""Staff single sign-on: the OpenID Connect relying party (issue 21, "staff sign-in that banks
expect").

The authorization code flow with PKCE (RFC 7636, S256), ``state`` against cross-site request
forgery of the callback and ``nonce`` against a replayed ID token. The ID token is checked by
authlib's ``CodeIDToken`` rules after joserfc verified its signature against the provider's
JWKS: ``iss`` is the configured issuer, ``aud`` holds our client id (``azp`` when there are
others), ``exp``/``iat`` within a minute of leeway, the nonce ours, ``at_hash`` matching.
Only asymmetric algorithms are accepted (never ``none``, never HS256 with the client secret).

Every call to the provider (discovery, JWKS, token) goes through the outbound-URL guard
(``kefu.net.guard``), pinned to the address checked and without redirects: an issuer on a
private or loopback address is refused unless ``outbound_allow_hosts`` names it (the test
provider on 127.0.0.1 is allowed that way). The client secret is a ``SecretStr``: it reaches the
token request's Authorization header and nothing else (not logs, not errors, not the audit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from kefu.auth.oidc_settings import OidcSettings
from kefu.net import guard

# Asymmetric signatures only: "none" and HMAC with the client secret are refused outright.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA")  # fmt: skip
LEEWAY_SECONDS = 60
METADATA_TTL = 3600.0
JWKS_REFRESH_MIN = 60.0  # an unknown key id refetches the JWKS at most this often
MAX_RESPONSE_BYTES = 256 * 1024


class SsoError(Exception):
    """Single sign-on did not complete. ``reason`` is a short code for the audit record and
    picks the message shown; ``detail`` is for the audit only (never holds a secret)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail[:300]
        self.audited = False  # set by whoever recorded it, so it is recorded once


@dataclass(frozen=True)
class Pending:
    """What the callback must find again: kept in the signed session cookie between the
    redirect to the provider and its return."""

    state: str
    nonce: str
    verifier: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier}


@dataclass
class OidcClient:
    settings: OidcSettings
    transport: httpx.AsyncBaseTransport | None = None
    _metadata: dict[str, Any] | None = None
    _metadata_at: float = 0.0
    _jwks: dict[str, Any] | None = None
    _jwks_at: float = 0.0

    # -- outbound calls, through the guard -------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            addresses = await guard.check_url(url)
        except guard.UnsafeURL as exc:
            raise SsoError("provider_refused", str(exc)) from None
        target, host, extensions = guard.pinned(url, addresses)
        headers = {"accept": "application/json", **host, **kwargs.pop("headers", {})}
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=self.settings.timeout, follow_redirects=False
            ) as http:
                response = await http.request(
                    method, target, headers=headers, extensions=extensions, **kwargs
                )
        except httpx.HTTPError as exc:
            raise SsoError("provider_unreachable", f"{type(exc).__name__} from {url}") from None
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise SsoError("provider_error", f"{url}: response too large")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.is_success or not isinstance(body, dict):
            # The provider's error code (invalid_grant, …) only; never the request.
            code = body.get("error") if isinstance(body, dict) else None
            raise SsoError("provider_error", f"{url}: HTTP {response.status_code} {code or ''}")
        return body

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, cached for an hour; its issuer must be ours exactly (OpenID
        Connect Discovery 1.0, 4.3: a document claiming another issuer is refused)."""
        if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_TTL:
            url = self.settings.issuer + "/.well-known/openid-configuration"
            document = await self._request("GET", url)
            if document.get("issuer") != self.settings.issuer:
                raise SsoError("provider_error", "discovery names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                value = document.get(key)
                if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                    raise SsoError("provider_error", f"discovery: no usable {key}")
            self._metadata, self._metadata_at = document, time.monotonic()
        return self._metadata

    async def _key_set(self, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        stale = self._jwks is None or now - self._jwks_at > METADATA_TTL
        if stale or (refresh and now - self._jwks_at > JWKS_REFRESH_MIN):
            self._jwks = await self._request("GET", (await self.metadata())["jwks_uri"])
            self._jwks_at = now
        try:
            assert self._jwks is not None
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SsoError("provider_error", f"JWKS unreadable ({type(exc).__name__})") from None

    # -- the flow ---------------------------------------------------------------------------

    async def begin(self, redirect_uri: str) -> tuple[str, Pending]:
        """The provider's authorization URL to send the browser to, and what to keep."""
        metadata = await self.metadata()
        pending = Pending(state=generate_token(32), nonce=generate_token(32),
                          verifier=generate_token(64))  # fmt: skip
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.settings.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        return add_params_to_uri(metadata["authorization_endpoint"], params), pending

    async def finish(self, code: str, redirect_uri: str, pending: Pending) -> dict[str, Any]:
        """Exchanges the code (with the PKCE verifier) and returns the ID token's verified
        claims. Raises :class:`SsoError` for anything that is not exactly right."""
        metadata = await self.metadata()
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": pending.verifier}  # fmt: skip
        secret = self.settings.client_secret.get_secret_value()
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" in methods:
            # RFC 6749, 2.3.1: both parts form-encoded before Basic encoding.
            auth = httpx.BasicAuth(quote(self.settings.client_id, safe=""), quote(secret, safe=""))
            token = await self._request("POST", metadata["token_endpoint"], data=data, auth=auth)
        else:
            data |= {"client_id": self.settings.client_id, "client_secret": secret}
            token = await self._request("POST", metadata["token_endpoint"], data=data)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError("bad_token", "no id_token in the token response")
        return await self.verify_id_token(id_token, pending.nonce, token.get("access_token"))

    async def verify_id_token(
        self, id_token: str, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if alg in ALGORITHMS] or ["RS256"]
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
                decoded = jwt.decode(id_token, await self._key_set(True), algorithms=algorithms)
        except JoseError as exc:
            raise SsoError("bad_signature", type(exc).__name__) from None
        except ValueError as exc:
            raise SsoError("bad_token", type(exc).__name__) from None
        options = {"iss": {"essential": True, "value": self.settings.issuer},
                   "aud": {"essential": True, "value": self.settings.client_id}}  # fmt: skip
        params = {"nonce": nonce, "client_id": self.settings.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)  # type: ignore[arg-type]
        try:
            claims.validate(leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            claim = getattr(exc, "claim", "") or ""
            raise SsoError(f"bad_claim_{claim}" if claim else "bad_token", str(exc)) from None
        return dict(claims)


def claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """The values of a claim as strings: a list, a single string, or a dotted path into nested
    objects (Keycloak's ``realm_access.roles``)."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def mapped_role(settings: OidcSettings, claims: dict[str, Any]) -> str | None:
    """The kefu role the user's claim values map to: the first entry of ``role_map`` (in its
    order) they have; None when none does."""
    held = set(claim_values(claims, settings.roles_claim))
    for value, role in settings.role_map.items():
        if value in held:
            return role.value
    return None
