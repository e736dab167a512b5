"""A kefu app with the web chat site ``bank`` (origins https://www.bank.example, an HS256
customer-token key), and helpers that speak the widget's API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kefu.channels.webchat.config import WebchatSite
from kefu.channels.webchat.tokens import issue_customer_token
from kefu.config import load_settings

ORIGIN = "https://www.bank.example"
KEY = "a-shared-secret-of-the-banks-site-0123456789"
SITE = WebchatSite(name="bank", origins=[ORIGIN], customer_token_key=KEY, messages_per_minute=20)
API = "/channels/webchat/bank"


def customer_token(customer_no: str, *, ttl: int = 600, site: WebchatSite = SITE) -> str:
    return issue_customer_token(site, customer_no, now=int(time.time()), ttl=ttl)


@pytest.fixture
def webchat_settings(seeded_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KEFU_ROUTING_TICK", "0")  # tests decide when routing runs
    return load_settings(database_url=seeded_url, secret_key="test-secret", webchat_sites=[SITE])


@pytest.fixture
def chat(webchat_settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    from kefu.app import create_app

    with TestClient(create_app(webchat_settings), headers={"Origin": ORIGIN}) as client:
        yield client


def open_session(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def auth(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def send(client: TestClient, session: dict[str, Any], text: str, client_id: str | None = None):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"text": text}
    if client_id:
        body["client_id"] = client_id
    return client.post(f"{API}/sessions/{session['session']}/messages", json=body,
                       headers=auth(session))  # fmt: skip


def wait_for(client: TestClient, session: dict[str, Any], predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """Polls the messages list (the widget's fallback) until ``predicate(body)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"{API}/sessions/{session['session']}/messages?after=0",
                          headers=auth(session)).json()  # fmt: skip
        if predicate(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last: {body}")
        time.sleep(0.05)


def bot_replies(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["sender"] == "bot"]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
