"""Issue 21, finding 12: security headers on pages and API answers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from kefu.web.security import template_hashes
from tests.conftest import login

pytestmark = pytest.mark.db


def test_pages_and_api_answers_carry_the_headers(client: TestClient) -> None:
    for path in ("/login", "/healthz", "/api/v1/conversations", "/static/kefu.css"):
        answer = client.get(path, follow_redirects=False)
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert headers["x-frame-options"] == "DENY", path
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src


def test_each_response_gets_its_own_nonce_and_templates_use_it(client: TestClient) -> None:
    assert login(client, "supervisor").status_code == 303
    first = client.get("/reports")
    second = client.get("/reports")
    nonce = re.search(r"'nonce-([^']+)'", first.headers["content-security-policy"]).group(1)
    other = re.search(r"'nonce-([^']+)'", second.headers["content-security-policy"]).group(1)
    assert nonce != other
    assert f'<script nonce="{nonce}">' in first.text


def test_static_inline_scripts_are_allowed_by_hash() -> None:
    scripts, handlers = template_hashes()
    assert scripts and all(h.startswith("'sha256-") for h in scripts)
    assert handlers  # e.g. the reply scripts' onclick


def test_docs_and_metrics_are_private_by_default(seeded_url: str) -> None:
    from kefu.app import create_app
    from kefu.config import load_settings

    settings = load_settings(database_url=seeded_url, secret_key="t")
    with TestClient(create_app(settings)) as anyone:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert anyone.get(path).status_code == 404, path
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as scraper:
        assert scraper.get("/metrics").status_code == 200  # a local Prometheus
        assert scraper.get("/openapi.json").status_code == 404
    public = load_settings(database_url=seeded_url, secret_key="t", api_docs_public=True)
    with TestClient(create_app(public)) as reader:
        assert reader.get("/openapi.json").status_code == 200
        assert reader.get("/docs").status_code == 200


def test_https_answers_carry_hsts(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/login").headers
    secure = client.get("https://testserver/login").headers
    assert secure["strict-transport-security"] == "max-age=31536000"
