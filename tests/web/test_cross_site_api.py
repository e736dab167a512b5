"""Issue 21, finding 4: a page on another origin (even another port of the same host) cannot
make a supervisor's or admin's browser write through /api/v1 with their session cookie."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login

pytestmark = pytest.mark.db
UNLOCK = "/api/v1/users/agent1/unlock"


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver:8001"},  # another port
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Origin": "http://testserver:8001"},  # an older browser: Origin only
        {"Origin": "null"},  # a sandboxed iframe
    ],
)
def test_cross_site_writes_with_the_session_cookie_are_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    assert login(client, "admin").status_code == 303
    answer = client.post(UNLOCK, headers=headers)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "cross-site" in answer.json()["detail"]


def test_same_origin_writes_and_api_keys_still_work(client: TestClient) -> None:
    assert login(client, "admin").status_code == 303
    same = client.post(UNLOCK, headers={"Sec-Fetch-Site": "same-origin",
                                        "Origin": "http://testserver"})  # fmt: skip
    assert same.status_code == 200, same.text
    assert client.post(UNLOCK, headers={"Origin": "http://testserver"}).status_code == 200
    assert client.post(UNLOCK).status_code == 200  # no browser headers: not a browser
    key = client.post("/api/v1/api-keys", json={"name": "core", "role": "admin"},
                      headers={"Sec-Fetch-Site": "same-origin"}).json()["key"]  # fmt: skip
    client.cookies.clear()
    # A system holding a key is not a victim's browser, whatever headers it sends.
    answer = client.post(UNLOCK, headers={"Authorization": f"Bearer {key}",
                                          "Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert answer.status_code == 200


def test_reads_are_not_affected(client: TestClient) -> None:
    assert login(client, "admin").status_code == 303
    assert client.get("/api/v1/users", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
