"""Security headers on every response (issue 21, finding 12) and the cross-site check for
cookie-authenticated API writes (finding 4, :class:`CrossSiteApiGuard`).

Content-Security-Policy: scripts only from kefu itself (``/static/dist/app.js``), plus inline
scripts that kefu's own templates carry. Those are allowed one of two ways, never by
``'unsafe-inline'``:

- a static inline ``<script>`` (no Jinja inside) is allowed by its SHA-256, computed here from
  the template files at start-up, so it keeps working when htmx swaps it in with a fragment;
- a script whose text depends on the request carries ``nonce="{{ request.state.csp_nonce }}"``
  (a fresh nonce per response).

Inline event handlers (``onclick="..."``) are allowed by hash with ``'unsafe-hashes'``: only
the exact handler texts found in the templates run. Text a customer or agent typed can never
match a hash and never carries the nonce, so stored HTML cannot run script even if an escape
is missed somewhere.

Framing: ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` unless the route sets
``request.state.frame_ancestors`` to the origins that may embed it (e.g. the web chat
widget's page on the bank's own sites): then only those, and no X-Frame-Options.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# Swagger UI and ReDoc load their own scripts; their pages get the other headers only.
CSP_EXEMPT = ("/docs", "/redoc")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", re.S | re.I)
_HANDLER = re.compile(r"""\son[a-z]+=(?:"([^"]*)"|'([^']*)')""", re.I)
_JINJA = ("{{", "{%", "{#")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=1)
def template_hashes(root: Path = PACKAGE_ROOT) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Hashes of the static inline scripts and of the static inline event handlers in every
    template under ``root``."""
    scripts: set[str] = set()
    handlers: set[str] = set()
    for path in sorted(root.rglob("templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        for attrs, body in _INLINE_SCRIPT.findall(text):
            if "json" in attrs.lower() or any(mark in body for mark in _JINJA):
                continue  # data blocks do not run; Jinja-built scripts use the nonce
            scripts.add(_sha256(body))
        for double, single in _HANDLER.findall(text):
            code = double or single
            if code and not any(mark in code for mark in _JINJA):
                handlers.add(_sha256(code))
    return tuple(sorted(scripts)), tuple(sorted(handlers))


def content_security_policy(nonce: str, frame_ancestors: Iterable[str] | None = None) -> str:
    scripts, handlers = template_hashes()
    script_src = ["'self'", f"'nonce-{nonce}'", *scripts]
    if handlers:
        script_src += ["'unsafe-hashes'", *handlers]
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(script_src),
            # htmx adds its indicator style and templates carry style="" attributes; styles
            # cannot run code.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


class SecurityHeaders:
    """Adds CSP, framing, nosniff and Referrer-Policy headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        template_hashes()  # read the templates once, at start-up

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        state = scope.setdefault("state", {})
        state["csp_nonce"] = nonce
        path = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ancestors = state.get("frame_ancestors")
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {b"content-security-policy", b"x-frame-options"}
                ]
                if scope.get("scheme") == "https":  # browsers use HTTPS only from then on
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                if not ancestors:
                    headers.append((b"x-frame-options", b"DENY"))
                if path.startswith(CSP_EXEMPT):
                    policy = "frame-ancestors " + (" ".join(ancestors) if ancestors else "'none'")
                else:
                    policy = content_security_policy(nonce, ancestors)
                headers.append((b"content-security-policy", policy.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrossSiteApiGuard:
    """Refuses cross-site writes to ``/api/`` that ride on the staff session cookie (issue 21,
    finding 4). Forms carry a CSRF token; API calls from kefu's own pages (htmx, fetch) are
    same-origin; systems use API keys, which a browser never attaches by itself. So a write
    with the session cookie and no API key must come from kefu's own origin:
    ``Sec-Fetch-Site`` must be ``same-origin`` (or ``none``: typed by the user), and where a
    browser does not send it, ``Origin`` must name this host. ``same-site`` is refused too: a
    page on another port of the same host is another origin. Requests with neither header
    come from no browser, so no victim's browser was tricked into them.
    """

    def __init__(self, app: ASGIApp, cookie: str = "kefu_session") -> None:
        self.app = app
        self.cookie = cookie.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in UNSAFE_METHODS
            and scope.get("path", "").startswith("/api/")
        ):
            reason = self._refusal(dict(scope.get("headers", [])))
            if reason:
                from kefu.web.middleware import _refuse

                await _refuse(send, 403, reason)
                return
        await self.app(scope, receive, send)

    def _refusal(self, headers: dict[bytes, bytes]) -> str | None:
        if b"x-api-key" in headers or headers.get(b"authorization", b"")[:7].lower() == b"bearer ":
            return None
        if self.cookie + b"=" not in headers.get(b"cookie", b""):
            return None  # no session: nothing to ride on; the route answers 401 itself
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if site:
            if site in {"same-origin", "none"}:
                return None
            return f"cross-site request refused (Sec-Fetch-Site: {site})"
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        if not origin:
            return None
        host = headers.get(b"host", b"").decode("latin-1").lower()
        netloc = origin.split("://", 1)[-1].rstrip("/")
        if origin == "null" or netloc != host:
            return f"cross-site request refused (Origin: {origin})"
        return None


DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class PrivateEndpoints:
    """``/docs``, ``/redoc`` and ``/openapi.json`` only with ``api_docs_public``; ``/metrics``
    only to loopback unless ``metrics_public`` (issue 21, info). Refused ones answer 404, as if
    they were not there."""

    def __init__(self, app: ASGIApp, *, docs_public: bool, metrics_public: bool) -> None:
        self.app = app
        self.docs_public = docs_public
        self.metrics_public = metrics_public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            client = (scope.get("client") or ("", 0))[0]
            hidden = (not self.docs_public and path.startswith(DOCS_PATHS)) or (
                path == "/metrics" and not self.metrics_public and client not in LOOPBACK
            )
            if hidden:
                from kefu.web.middleware import _refuse

                await _refuse(send, 404, "Not Found")
                return
        await self.app(scope, receive, send)


def install_security(app: Any, settings: Any) -> None:
    """The app factory's one call: security headers, the cross-site check for cookie-
    authenticated API writes, the private endpoints, and the outbound-URL guard's
    allow-list."""
    from kefu.net import guard

    guard.configure(settings.outbound_allow_hosts)
    app.add_middleware(PrivateEndpoints, docs_public=settings.api_docs_public,
                       metrics_public=settings.metrics_public)  # fmt: skip
    app.add_middleware(CrossSiteApiGuard)
    app.add_middleware(SecurityHeaders)  # added last: runs first, so refusals get headers too
