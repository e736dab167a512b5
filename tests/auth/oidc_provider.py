"""A small OpenID provider for the single sign-on tests, on a real loopback socket.

It does what Keycloak or ADFS would for one pre-chosen user: a discovery document, a JWKS with
an RSA key made at start, ``/authorize`` that redirects straight back with a code (no login
form: the user is ``provider.user``), and ``/token`` that checks the client's secret, the code,
the redirect URI and the PKCE verifier before it issues an ID token signed with that key.
``provider.tamper`` overrides ID-token claims and ``provider.sign_with`` signs with another key,
so the tests can hand kefu the forgeries it must refuse.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Any
from urllib.parse import unquote, urlencode

import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.ports import free_port

CLIENT_ID = "kefu-staff"
CLIENT_SECRET = "provider-test-secret-9f3a"


def new_key(kid: str = "test-key-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class TestProvider:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = new_key()
        self.user: dict[str, Any] = {}
        self.tamper: dict[str, Any] = {}
        self.sign_with: RSAKey | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []  # "GET /jwks", … (what kefu asked, in order)
        self.authorize_params: list[dict[str, str]] = []
        app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])  # fmt: skip
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def reset(self, **user: Any) -> None:
        self.user = {"sub": "u-1001", "preferred_username": "zhang.wei", "name": "张伟",
                     "groups": ["kefu-agents"]} | user  # fmt: skip
        self.tamper, self.sign_with = {}, None
        self.requests.clear()
        self.authorize_params.clear()

    def __enter__(self) -> TestProvider:
        self.reset()
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test OpenID provider did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    # -- endpoints ---------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        self.requests.append("GET discovery")
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        })  # fmt: skip

    async def jwks(self, request: Request) -> Response:
        self.requests.append("GET jwks")
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorize_params.append(params)
        if (params.get("client_id") != CLIENT_ID or params.get("response_type") != "code"
                or params.get("code_challenge_method") != "S256"
                or "openid" not in params.get("scope", "").split()):  # fmt: skip
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"challenge": params["code_challenge"], "nonce": params.get("nonce"),
                            "redirect_uri": params["redirect_uri"]}  # fmt: skip
        back = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{back}", status_code=302)

    async def token(self, request: Request) -> Response:
        self.requests.append("POST token")
        form = dict(await request.form())
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        user, _, password = base64.b64decode(encoded or "Og==").decode().partition(":")
        if scheme != "Basic" or (unquote(user), unquote(password)) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if (grant is None or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != grant["redirect_uri"]
                or create_s256_code_challenge(form.get("code_verifier", ""))
                != grant["challenge"]):  # fmt: skip
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"]} | self.user | self.tamper  # fmt: skip
        key = self.sign_with or self.key
        header = {"alg": "RS256", "kid": key.kid}
        id_token = jwt.encode(header, claims, key)
        return JSONResponse({"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                             "expires_in": 300, "id_token": id_token})  # fmt: skip
