"""The site icon (issue 23, finding 10: /favicon.ico answered 404 on every page view)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kefu.app import create_app
from kefu.config import load_settings


def test_favicon_is_served_to_anyone_and_linked_by_the_layout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'kefu.db'}", secret_key="t")
    with TestClient(create_app(settings)) as client:
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
        assert icon.content.startswith(b"<svg") and b"</svg>" in icon.content
        linked = client.get("/static/favicon.svg")
        assert linked.status_code == 200 and linked.content == icon.content
        login = client.get("/login").text
        assert '<link rel="icon" href="/static/favicon.svg"' in login
