"""Signed status callbacks: each key hears about the SMS it sent, and nobody else's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kefu.outbound import api as sms_api
from kefu.webhooks.service import verify
from tests.channels.sms.test_demo import _wait
from tests.outbound.test_api import NOON, admin_key, make_client
from tests.outbound.test_api import simulator as simulator  # the module's fixture

pytestmark = pytest.mark.db
CALLBACKS = "/api/v1/sms/callbacks"


class Receiver:
    """A real HTTP server on loopback that keeps what it is sent, by path."""

    def __init__(self) -> None:
        self.posts: dict[str, list[tuple[dict[str, str], bytes]]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.posts.setdefault(self.path, []).append(
                    ({k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, path: str) -> list[dict]:
        return [json.loads(body) for _, body in self.posts.get(path, [])]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_each_key_gets_signed_callbacks_for_its_own_messages(
    seeded_url: str,
    simulator,  # noqa: F811
    receiver: Receiver,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    port, _ = simulator
    monkeypatch.setattr(sms_api, "now", lambda: NOON)
    monkeypatch.setenv("KEFU_ROUTING_TICK", "0.2")
    with make_client(seeded_url, port, outbound_allow_hosts=["127.0.0.1"]) as client:
        core = {"Authorization": f"Bearer {admin_key(client, 'core')}"}
        other = {"Authorization": f"Bearer {admin_key(client, 'other')}"}
        mine = client.post(CALLBACKS, json={"url": receiver.url + "/core"}, headers=core)
        assert mine.status_code == 201, mine.text
        secret = mine.json()["secret"]
        theirs = client.post(CALLBACKS, json={"url": receiver.url + "/other"}, headers=other)
        assert theirs.status_code == 201
        assert [c["id"] for c in client.get(CALLBACKS, headers=core).json()] == [mine.json()["id"]]
        assert client.get(CALLBACKS, headers=core).json()[0]["secret"] is None  # shown once

        sent = client.post("/api/v1/sms/messages", headers=core,
                           json={"to": ["13800000031"], "text": "您的账单已出"})  # fmt: skip
        assert sent.status_code == 202, sent.text
        sms_id = sent.json()["accepted"][0]["id"]

        def states() -> list[str]:
            return [e["data"]["state"] for e in receiver.events("/core")
                    if e["data"]["id"] == sms_id]  # fmt: skip

        _wait(lambda: "delivered" in states(), timeout=30)
        assert states()[0] == "sent"
        for headers, body in receiver.posts["/core"]:
            assert headers["x-kefu-event"] == "sms.status"
            assert verify(secret, int(headers["x-kefu-timestamp"]), body,
                          headers["x-kefu-signature"])  # fmt: skip
            assert not verify("wrong", int(headers["x-kefu-timestamp"]), body,
                              headers["x-kefu-signature"])  # fmt: skip
        delivered = [e for e in receiver.events("/core") if e["data"]["state"] == "delivered"]
        assert delivered[0]["data"]["report"] == "DELIVRD"
        assert receiver.events("/other") == []  # another key's messages are not its business


def test_callback_requests_are_validated(seeded_url: str, simulator) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    port, _ = simulator
    with make_client(seeded_url, port) as client:
        core = {"Authorization": f"Bearer {admin_key(client, 'core')}"}
        other = {"Authorization": f"Bearer {admin_key(client, 'other')}"}
        bad = client.post(CALLBACKS, json={"url": "not a url"}, headers=core)
        assert bad.status_code == 422 and "url" in bad.text
        assert client.post(CALLBACKS, json={"url": "http://x.test/"}).status_code == 401
        made = [
            client.post(CALLBACKS, json={"url": f"http://x.test/{n}"}, headers=core)
            for n in range(6)
        ]
        assert [r.status_code for r in made] == [201] * 5 + [422]
        first = made[0].json()["id"]
        assert client.delete(f"{CALLBACKS}/{first}", headers=other).status_code == 404
        assert client.delete(f"{CALLBACKS}/{first}", headers=core).status_code == 204
        assert client.delete(f"{CALLBACKS}/{first}", headers=core).status_code == 404
        assert len(client.get(CALLBACKS, headers=core).json()) == 4
