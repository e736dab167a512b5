"""The web chat edge refuses what it must, with problem+json, and loses nothing it accepted."""

from __future__ import annotations

import pytest

from kefu.channels.webchat.config import WebchatSite
from tests.channels.webchat.conftest import (
    API,
    KEY,
    ORIGIN,
    auth,
    customer_token,
    open_session,
    send,
)

pytestmark = pytest.mark.db


def test_unknown_site_is_404(chat) -> None:  # type: ignore[no-untyped-def]
    response = chat.post("/channels/webchat/nosuch/sessions", json={})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_origin_not_allowed_is_403(chat) -> None:  # type: ignore[no-untyped-def]
    response = chat.post(f"{API}/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "origin" in response.json()["detail"]
    # The refusal is readable by the page (the widget says why), and nothing was opened.
    assert response.headers["access-control-allow-origin"] == "https://evil.example"
    assert "session" not in response.json()
    allowed = chat.options(f"{API}/sessions", headers={"Origin": ORIGIN,
                                                      "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "Authorization" in allowed.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        customer_token("C0000000001", site=WebchatSite(name="bank", customer_token_key="x" * 40)),
        customer_token("C0000000001", ttl=-120),  # expired
        customer_token("C0000000001", ttl=86_400),  # lives too long
    ],
)
def test_bad_customer_token_is_401(chat, token: str) -> None:  # type: ignore[no-untyped-def]
    response = chat.post(f"{API}/sessions", json={"customer_token": token})
    assert response.status_code == 401, response.text


def test_alg_none_token_is_refused(chat) -> None:  # type: ignore[no-untyped-def]
    import jwt

    forged = jwt.encode({"sub": "C0000000001", "aud": "kefu-webchat", "iat": 0, "exp": 2**40},
                        key=None, algorithm="none")  # fmt: skip
    assert chat.post(f"{API}/sessions", json={"customer_token": forged}).status_code == 401


def test_bad_session_tokens_are_401(chat) -> None:  # type: ignore[no-untyped-def]
    one, other = open_session(chat), open_session(chat)
    url = f"{API}/sessions/{one['session']}/messages"
    assert chat.post(url, json={"text": "hi"}).status_code == 401  # none
    assert chat.post(url, json={"text": "hi"}, headers=auth(other)).status_code == 401  # another's
    tampered = {"Authorization": "Bearer " + one["token"][:-2] + "xx"}
    assert chat.post(url, json={"text": "hi"}, headers=tampered).status_code == 401
    events = chat.get(f"{API}/sessions/{one['session']}/events?token=forged")
    assert events.status_code == 401
    assert KEY not in events.text


def test_oversized_empty_and_malformed_messages(chat) -> None:  # type: ignore[no-untyped-def]
    session = open_session(chat)
    assert send(chat, session, "长" * 2001).status_code == 413
    assert send(chat, session, "").status_code == 422
    assert send(chat, session, "\x00\x01\u0007").status_code == 422  # nothing but control chars
    url = f"{API}/sessions/{session['session']}/messages"
    assert chat.post(url, content=b"{not json", headers=auth(session)).status_code == 422
    extra = chat.post(url, json={"text": "hi", "admin": True}, headers=auth(session))
    assert extra.status_code == 422
    bad_after = chat.get(f"{API}/sessions/{session['session']}/messages?after=-1",
                         headers=auth(session))  # fmt: skip
    assert bad_after.status_code == 422
    assert bad_after.headers["content-type"] == "application/problem+json"
    # Nothing of it was stored: only the greeting is there.
    history = chat.get(f"{API}/sessions/{session['session']}/messages?after=0",
                       headers=auth(session)).json()  # fmt: skip
    assert [m["sender"] for m in history["messages"]] == ["bot"]


def test_flooding_is_429_with_retry_after(chat) -> None:  # type: ignore[no-untyped-def]
    session = open_session(chat)
    statuses = [send(chat, session, f"第{n}条").status_code for n in range(21)]
    assert statuses[:20] == [202] * 20 and statuses[20] == 429
    refused = send(chat, session, "再来一条")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # A retry of an accepted message is not a new one: still answered with its seq.
    assert send(chat, session, "x", client_id="r1").status_code == 429


def test_markup_stays_text(chat) -> None:  # type: ignore[no-untyped-def]
    session = open_session(chat)
    hostile = "<img src=x onerror=alert(1)>"
    assert send(chat, session, hostile).status_code == 202
    history = chat.get(f"{API}/sessions/{session['session']}/messages?after=0",
                       headers=auth(session)).json()  # fmt: skip
    assert history["messages"][1]["text"] == hostile  # stored as typed; JSON, not HTML


def test_widget_script_is_served(chat) -> None:  # type: ignore[no-untyped-def]
    response = chat.get("/channels/webchat/static/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")


def test_a_bug_is_the_apps_500_readable_by_the_widget(
    chat, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """An unexpected error answers the app's problem+json 500 (logged, nothing of the error
    shown) with the CORS headers: the widget can say "try again" instead of a network error."""
    session = open_session(chat)
    channel = chat.app.state.webchat

    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail 13800000000")

    monkeypatch.setattr(channel, "receive", broken)
    answer = send(chat, session, "你好")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "13800000000" not in answer.text and "secret" not in answer.text
