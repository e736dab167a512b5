"""Issue 21, "tests that keep it fixed": the role matrix, generated from the route table.

Every route × every role (each demo user, and a partner's API key) × anonymous: a route
declares its permission with ``Depends(require(Permission.X))``; anonymous callers get 401 (a
page: a redirect to the login), roles without the permission 403, roles with it anything but
401/403. A route without a permission must be on the public list below, so a new route cannot
be left open by forgetting ``require``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from kefu.auth.permissions import Permission, allowed
from tests.conftest import login

pytestmark = pytest.mark.db

# Routes anyone may call, and why.
PUBLIC = re.compile(
    r"^(/healthz|/readyz"  # probes
    r"|/favicon.ico"  # the site icon, asked for by browsers before any sign-in
    r"|/login|/login/totp|/logout"  # the way in (a pending login for the code) and out
    r"|/login/sso|/login/sso/callback"  # single sign-on: to the provider and back (its state)
    r"|/h5/.*"  # WeChat followers: their own OAuth2 and signed cookie (kefu.hall.h5.auth)
    r"|/channels/wechat/\{account\}"  # WeChat's servers: signature and AES
    r"|/channels/webchat/.*"  # the web chat widget: its own session tokens
    r"|/social/hooks/\{source\}"  # social platforms' webhooks: the source's HMAC signature
    r"|/weibo/\{name\}/push"  # Weibo's 私信 push: the app secret's signature
    r"|/demo/weibo"  # the demo's Weibo user page (404 unless the demo runs it)
    r"|/branch/map|/branch/map/waits|/branch/map/ticket"  # customers' branch map: phone-keyed, rate-limited
    r"|/branch/forms|/branch/forms/\{kind\}"  # customers' pre-filled forms: CSRF, rate-limited
    r"|/branch/appointments|/branch/appointments/cancel"  # customers' bookings: phone-keyed, CSRF, rate-limited
    r"|/collect/\{site\}"  # behaviour events from any visitor's browser: the site's public key
    r"|/collect/\{site\}/replay"  # session-replay chunks from a sampled visitor's browser
    r"|/demo/bank|/demo/bank/\{page:path\}"  # the demo bank's web site (kefu.analytics)
    r"|/demo/webchat)$"  # the demo bank's page around the widget
)
USERS = {"agent": "agent1", "supervisor": "supervisor", "admin": "admin", "analyst": "analyst",
         "teller": "teller"}  # fmt: skip
ROLE_REFUSAL = "may not use this"  # web.deps.require's answer
BY_NAME = {f"require_{p.value.replace('.', '_')}": p for p in Permission}


def _routes(routes: list, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:  # type: ignore[type-arg]
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI's included router
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def _permissions(dependant) -> set[Permission]:  # type: ignore[no-untyped-def]
    found = set()
    for dependency in dependant.dependencies:
        name = getattr(dependency.call, "__name__", "")
        if name in BY_NAME:
            found.add(BY_NAME[name])
        found |= _permissions(dependency)
    return found


def _url(path: str) -> str:
    return re.sub(r"\{[^}:]+(:[a-z]+)?\}", "1", path)


def test_every_route_answers_every_role_as_its_permission_says(client: TestClient) -> None:
    app = client.app
    jars: dict[str, dict[str, str]] = {}
    for role, username in USERS.items():
        client.cookies.clear()
        assert login(client, username).status_code == 303, username
        jars[role] = dict(client.cookies)
    client.cookies.clear()
    login(client, "admin")
    key = client.post("/api/v1/api-keys", json={"name": "matrix-partner", "role": "partner"})
    partner = {"Authorization": f"Bearer {key.json()['key']}"}
    client.cookies.clear()

    unguarded, wrong = [], []
    for path, route in _routes(app.routes):  # type: ignore[attr-defined]
        needed = _permissions(route.dependant)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            if not needed:
                if not PUBLIC.match(path):
                    unguarded.append(f"{method} {path}")
                continue
            url = _url(path)
            streaming = path.endswith(("/events", "/stream"))
            callers = [("anonymous", {}, None)]
            callers += [(role, {}, jar) for role, jar in jars.items()]
            callers.append(("partner", partner, None))
            for who, headers, jar in callers:
                may = who != "anonymous" and all(allowed(who, p) for p in needed)
                if may and streaming:
                    continue  # an event stream never ends; its refusals are checked
                client.cookies.clear()
                if jar:
                    client.cookies.update(jar)
                answer = client.request(method, url, headers=headers, follow_redirects=False)
                status = answer.status_code
                if who == "anonymous":
                    ok = status == 401 or (
                        status == 303 and answer.headers["location"].startswith("/login")
                    )
                elif may:
                    # A 403 about the object (another partner's template, a conversation
                    # someone else holds) is fine; a refusal of the role is not.
                    ok = status != 401 and not (status == 403 and ROLE_REFUSAL in answer.text)
                else:
                    ok = status == 403 and ROLE_REFUSAL in answer.text
                if not ok:
                    wrong.append(f"{method} {path} as {who}: {status} (needs {sorted(needed)})")
    assert unguarded == [], "routes without a permission and not public"
    assert wrong == [], "\n".join(wrong)
