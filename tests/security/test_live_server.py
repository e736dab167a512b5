"""The live test server keeps what it answered 500 for, so a contract run's failure message can
say why (tests/security/test_openapi_contract.py)."""

from __future__ import annotations

from pathlib import Path

import httpx

from kefu.config import load_settings
from tests.security.live import LiveServer


def test_the_live_server_keeps_the_traceback_of_each_server_error(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", secret_key="t")
    server = LiveServer(settings)

    async def broken() -> None:
        raise RuntimeError("the bank's port said something odd")

    server.app.add_api_route("/broken-for-the-test", broken)
    with server as base:
        answer = httpx.get(f"{base}/broken-for-the-test", headers={"Accept": "application/json"})
        fine = httpx.get(f"{base}/healthz")
    assert answer.status_code == 500
    assert answer.json()["detail"] == "internal error; see the server log"  # answered as before
    assert fine.status_code == 200
    assert len(server.errors) == 1
    assert server.errors[0].startswith("GET /broken-for-the-test: Traceback")
    assert "RuntimeError: the bank's port said something odd" in server.errors[0]
