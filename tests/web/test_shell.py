"""Login, home page, health, errors, size limits and languages."""

from __future__ import annotations

import pytest

from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def test_health_and_readiness(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert ready.json()["schema_revision"]


def test_openapi_docs_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/conversations" in paths and "/readyz" in paths


def test_agent_logs_in_and_sees_live_counts(client) -> None:  # type: ignore[no-untyped-def]
    response = login(client, "agent1")
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "李晓雨" in home.text
    assert 'data-testid="counts"' in home.text and 'hx-get="/home/counts"' in home.text
    counts = client.get("/api/v1/stats/home").json()
    assert counts == {
        "bank_customers": 20,
        "bound_customers": 4,
        "open_conversations": 4,
        "agents_online": 1,
    }
    fragment = client.get("/home/counts")
    assert 'data-testid="open-conversations">4<' in fragment.text


def test_wrong_password_and_lock_out(client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert login(client, "agent2", "wrong-password-9").status_code == 401
    locked = login(client, "agent2", "wrong-password-9")
    assert locked.status_code == 423
    # Locked: even the right password is refused.
    assert login(client, "agent2").status_code == 423
    login(client, "admin")
    assert client.post("/api/v1/users/agent2/unlock").status_code == 200
    client.cookies.clear()
    assert login(client, "agent2").status_code == 303


def test_login_form_needs_its_csrf_token(client) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    response = client.post("/login", data={"username": "agent1", "password": "x", "csrf": "forged"})
    assert response.status_code == 400


def test_open_redirect_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login?next=//evil.example/")
    token = CSRF.search(page.text).group(1)
    from kefu.demo import DEMO_PASSWORD

    response = client.post(
        "/login",
        data={
            "username": "agent1",
            "password": DEMO_PASSWORD,
            "csrf": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_logout_ends_the_session(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    home = client.get("/")
    token = CSRF.search(home.text).group(1)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/conversations").status_code == 401
    login(client, "supervisor")
    roster = {a["username"]: a["presence"] for a in client.get("/api/v1/agents").json()}
    assert roster["agent1"] == "offline" and roster["supervisor"] == "online"


def test_errors_are_problem_json_for_the_api_and_a_page_for_the_ui(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    missing = client.get("/api/v1/customers/C0000009999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    invalid = client.get("/api/v1/conversations?limit=0")
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"].endswith("limit")
    bad_no = client.get("/api/v1/customers/C-1")
    assert bad_no.status_code == 422
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text


def test_oversized_bodies_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    big = "x" * (2 * 1024 * 1024)
    response = client.post(
        "/api/v1/users", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 65536

    streamed = client.post(
        "/api/v1/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_customer_view_masks_personal_data(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    body = client.get("/api/v1/customers/C0000000001").json()
    assert "****" in body["mobile"] and "********" in body["id_number"]
    assert all("****" in card["card_no"] for card in body["cards"])
    assert "*" in body["name"]


def test_admin_creates_a_user_through_the_form_and_the_audit_log_shows_it(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/admin/users")
    token = CSRF.search(page.text).group(1)
    created = client.post(
        "/admin/users",
        data={
            "username": "newagent",
            "password": "brand-new-pass-1",
            "role": "agent",
            "csrf": token,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    weak = client.post(
        "/admin/users",
        data={"username": "weak", "password": "short", "role": "agent", "csrf": token},
    )
    assert "password" in weak.text and weak.status_code == 200
    audit = client.get("/api/v1/audit?action=user.create").json()
    assert audit[0]["details"]["username"] == "newagent"
    duplicate = client.post(
        "/api/v1/users",
        json={"username": "newagent", "password": "brand-new-pass-1", "role": "agent"},
    )
    assert duplicate.status_code == 409


def test_chinese_by_default_english_on_request(client) -> None:  # type: ignore[no-untyped-def]
    assert "登录客服平台" in client.get("/login").text
    english = client.get("/login?lang=en")
    assert "Log in to kefu" in english.text
    assert "kefu_lang=en" in english.headers["set-cookie"]
    # The cookie keeps the choice.
    assert "Log in to kefu" in client.get("/login").text
