"""Issue 21, finding 8 (SSRF): webhooks and partners' status callbacks may not point inside."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kefu.config import load_settings
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.net import guard
from kefu.webhooks import service as webhooks
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.conftest import login

# The forms from the finding, and their cousins.
INWARD = [
    "http://127.0.0.1:8200/api/v1/users",
    "http://2130706433:8200/",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://localhost:8200/api/v1/users",
    "http://LOCALHOST./",
    "http://admin.localhost/",
    "http://[::1]:8200/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://0.0.0.0:8200/",
    "http://0/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://metadata.google.internal/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # shared address space (CGNAT)
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://intranet/",
    "ftp://example.com/",
    "http://user:pw@example.com/",
]


@pytest.mark.parametrize("url", INWARD)
def test_inward_urls_are_refused(url: str) -> None:
    with pytest.raises(guard.UnsafeURL):
        guard.check_static(url, guard.OutboundPolicy())


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://8.8.8.8/x", "https://[2001:4860:4860::8888]/"]
)
def test_public_urls_pass(url: str) -> None:
    guard.check_static(url, guard.OutboundPolicy())


async def test_a_name_that_resolves_inward_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    async def resolve(host: str, port: int):  # type: ignore[no-untyped-def]
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(guard, "resolve", resolve)
    with pytest.raises(guard.UnsafeURL, match="127.0.0.1"):
        await guard.check_url("https://rebind.example/hook", guard.OutboundPolicy())


def test_the_allow_list_lets_the_demo_reach_loopback() -> None:
    rules = guard.OutboundPolicy.from_list(["127.0.0.0/8", "receiver.test"])
    guard.check_static("http://127.0.0.1:9/hook", rules)
    guard.check_static("http://receiver.test/hook", rules)
    with pytest.raises(guard.UnsafeURL):
        guard.check_static("http://10.0.0.1/hook", rules)


@pytest.mark.db
def test_the_apis_refuse_inward_urls(seeded_url: str) -> None:
    from kefu.app import create_app

    settings = load_settings(database_url=seeded_url, secret_key="t")
    with TestClient(create_app(settings)) as client:
        assert login(client, "admin").status_code == 303
        for url in (
            "http://127.0.0.1:8200/x",
            "http://2130706433:8200/",
            "http://localhost:8200/api/v1/users",
        ):
            hook = client.post("/api/v1/webhooks", json={"name": "x", "url": url, "events": ["*"]})
            assert hook.status_code == 422, (url, hook.text)
            callback = client.post("/api/v1/sms/callbacks", json={"url": url})
            assert callback.status_code == 422, (url, callback.text)
        ok = client.post(
            "/api/v1/webhooks",
            json={"name": "crm", "url": "https://crm.example.com/hook", "events": ["*"]},
        )
        assert ok.status_code == 201


class _Receiver:
    def __init__(self) -> None:
        hits: list[str] = []
        hosts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hits.append(self.path)
                hosts.append(self.headers.get("host", ""))
                if self.path == "/bounce":
                    self.send_response(302)
                    self.send_header("Location", "/inside")
                else:
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 - a redirected POST comes back as a GET

            def log_message(self, *args: object) -> None:
                pass

        self.hits = hits
        self.hosts = hosts
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


@pytest.mark.db
def test_deliveries_to_inward_urls_are_not_made(db_url: str, receiver: _Receiver) -> None:
    """A subscription stored before the guard existed (or written to the table directly) is
    refused at delivery time too: the receiver on loopback never hears from kefu."""

    async def scenario() -> list[WebhookDelivery]:
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        try:
            async with session_scope(factory) as db:
                for path in ("/direct", "/bounce"):
                    db.add(WebhookSubscription(name=path, url=receiver.base + path, secret="s",
                                               events=["*"]))  # fmt: skip
                await db.flush()
                await webhooks.emit(db, event="conversation.closed", payload={"id": 1})
            async with session_scope(factory) as db, httpx.AsyncClient() as client:
                guard.configure([])
                await webhooks.deliver_due(db, client=client, now=utcnow())
            async with session_scope(factory) as db:
                return list((await db.scalars(select(WebhookDelivery))).all())
        finally:
            await engine.dispose()

    rows = asyncio.run(scenario())
    assert receiver.hits == []
    assert all(r.status == "failed" and r.last_error.startswith("refused") for r in rows)


@pytest.mark.db
def test_allowed_deliveries_do_not_follow_redirects(db_url: str, receiver: _Receiver) -> None:
    async def scenario() -> None:
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        try:
            async with session_scope(factory) as db:
                db.add(WebhookSubscription(name="b", url=receiver.base + "/bounce", secret="s",
                                           events=["*"]))  # fmt: skip
                await db.flush()
                await webhooks.emit(db, event="conversation.closed", payload={"id": 1})
            async with (
                session_scope(factory) as db,
                httpx.AsyncClient(follow_redirects=True) as client,
            ):
                guard.configure(["127.0.0.1"])
                try:
                    await webhooks.deliver_due(db, client=client, now=utcnow())
                finally:
                    guard.configure([])
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    assert receiver.hits == ["/bounce"]  # not "/inside"


@pytest.mark.db
def test_deliveries_connect_to_the_address_that_was_checked(
    db_url: str, receiver: _Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the guard resolves the name once and the connection goes to that
    address. "pinned.test" resolves nowhere but in the guard, so the receiver hears the
    delivery only if the client did not resolve the name again."""
    import ipaddress

    async def resolve(host: str, port: int):  # type: ignore[no-untyped-def]
        assert host == "pinned.test"
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(guard, "resolve", resolve)
    port = receiver.server.server_address[1]

    async def scenario() -> list[WebhookDelivery]:
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        try:
            async with session_scope(factory) as db:
                db.add(WebhookSubscription(name="p", url=f"http://pinned.test:{port}/hook",
                                           secret="s", events=["*"]))  # fmt: skip
                await db.flush()
                await webhooks.emit(db, event="conversation.closed", payload={"id": 1})
            async with session_scope(factory) as db, httpx.AsyncClient() as client:
                guard.configure(["127.0.0.0/8"])
                try:
                    await webhooks.deliver_due(db, client=client, now=utcnow())
                finally:
                    guard.configure([])
            async with session_scope(factory) as db:
                return list((await db.scalars(select(WebhookDelivery))).all())
        finally:
            await engine.dispose()

    rows = asyncio.run(scenario())
    assert receiver.hits == ["/hook"] and receiver.hosts == [f"pinned.test:{port}"]
    assert rows[0].status == "delivered"


def test_https_keeps_the_name_for_the_certificate() -> None:
    import ipaddress

    url, headers, extensions = guard.pinned(
        "https://hooks.example.com/in?x=1", [ipaddress.ip_address("93.184.216.34")]
    )
    assert url == "https://93.184.216.34/in?x=1"
    assert headers == {"host": "hooks.example.com"}
    assert extensions == {"sni_hostname": "hooks.example.com"}


async def test_a_name_that_does_not_resolve_is_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Else the HTTP client would resolve it itself, and a rebinding DNS server could answer
    the second lookup with an inside address."""

    async def resolve(host: str, port: int):  # type: ignore[no-untyped-def]
        raise OSError("Name or service not known")

    monkeypatch.setattr(guard, "resolve", resolve)
    with pytest.raises(guard.Unresolvable):
        await guard.check_url("https://flaky.example/hook", guard.OutboundPolicy())
