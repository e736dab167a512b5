"""Each role reaches its own pages and is refused what it must not see."""

from __future__ import annotations

import pytest

from tests.conftest import login

pytestmark = pytest.mark.db

ALLOWED = {
    "agent1": [
        "/",
        "/workspace/conversations",
        "/api/v1/conversations",
        "/api/v1/customers/C0000000001",
    ],
    "supervisor": [
        "/",
        "/supervisor/agents",
        "/api/v1/agents",
        "/reports",
        "/api/v1/reports/workload",
    ],
    "admin": ["/", "/admin/users", "/api/v1/users", "/api/v1/audit"],
    "analyst": ["/", "/reports", "/api/v1/reports/workload"],
    "teller": ["/", "/branch/counter", "/api/v1/branches", "/api/v1/customers/C0000000002"],
}
REFUSED = {
    "agent1": ["/admin/users", "/api/v1/users", "/reports", "/branch/counter", "/api/v1/audit"],
    "supervisor": ["/admin/users", "/api/v1/audit", "/branch/counter"],
    "admin": ["/workspace/conversations", "/api/v1/customers/C0000000001", "/reports"],
    "analyst": [
        "/workspace/conversations",
        "/api/v1/customers/C0000000001",
        "/admin/users",
        "/api/v1/agents",
    ],
    "teller": ["/workspace/conversations", "/reports", "/api/v1/users", "/supervisor/agents"],
}


@pytest.mark.parametrize("username", sorted(ALLOWED))
def test_role_pages(client, username: str) -> None:  # type: ignore[no-untyped-def]
    assert login(client, username).status_code == 303
    for path in ALLOWED[username]:
        assert client.get(path).status_code == 200, path
    for path in REFUSED[username]:
        response = client.get(path)
        assert response.status_code == 403, path
        if path.startswith("/api/"):
            assert response.headers["content-type"] == "application/problem+json"
            assert "may not" in response.json()["detail"]


def test_anonymous_is_sent_to_login_or_gets_401(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/workspace/conversations", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    api = client.get("/api/v1/conversations")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"


def test_api_key_gets_its_role_and_nothing_more(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    created = client.post("/api/v1/api-keys", json={"name": "crm", "role": "agent"})
    assert created.status_code == 201
    key = created.json()["key"]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/conversations", headers=headers).status_code == 200
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    assert client.get("/api/v1/conversations", headers={"X-API-Key": key}).status_code == 200
    bad = client.get(
        "/api/v1/conversations", headers={"Authorization": "Bearer kefu_forged-key-000000"}
    )
    assert bad.status_code == 401
