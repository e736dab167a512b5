"""Partner accounts: validation of every field, the sub-code's room in each protocol, the
token bucket, the admin API's bad input, the CLI, and the client address behind a proxy."""

from __future__ import annotations

import math
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from kefu.bus.limits import InProcessLimits, TokenBucket
from kefu.channels.sms.config import SmsLink
from kefu.cli import app as cli
from kefu.config import load_settings
from kefu.partners import service
from kefu.partners.models import Partner
from tests.conftest import CSRF, login
from tests.outbound.test_api import in_session

TERMS = service.PartnerTerms("某某保险", ["203.0.113.0/24"], 100, 5.0, 10)


def _link(protocol: str, service_number: str) -> SmsLink:
    return SmsLink(name="l", protocol=protocol, port=1, username="u", password="p",
                   service_number=service_number)  # fmt: skip


def test_the_sub_code_must_fit_the_protocols_source_field() -> None:
    assert service.source_address(_link("cmpp3", "1065795511"), "5566") == "10657955115566"
    long = "1" * 16
    assert service.source_address(_link("cmpp3", long), "12345") == long + "12345"  # 21
    with pytest.raises(service.PartnerError) as caught:
        service.source_address(_link("smpp", long), "12345")  # SMPP: 20 + NUL
    assert caught.value.field == "sub_code" and "20 digits" in str(caught.value)


def test_allow_list_matches_v4_and_v6_and_refuses_non_addresses() -> None:
    partner = service.Partner(ip_allow=["203.0.113.0/24", "2001:db8::/32"])
    assert service.address_allowed(partner, "203.0.113.200")
    assert service.address_allowed(partner, "2001:db8::1")
    assert not service.address_allowed(partner, "203.0.114.1")
    assert not service.address_allowed(partner, "testclient")
    assert not service.address_allowed(partner, None)
    assert not service.address_allowed(service.Partner(ip_allow=[]), "203.0.113.1")


async def test_token_bucket_refills_at_the_rate_and_never_above_the_burst() -> None:
    bucket = TokenBucket(rate=2.0, burst=4, now=0.0)
    assert bucket.take(4, 0.0) == 0.0
    assert bucket.take(1, 0.0) == pytest.approx(0.5)
    assert bucket.take(1, 0.5) == 0.0
    assert bucket.take(5, 100.0) == math.inf  # more than the bucket ever holds
    assert bucket.take(4, 100.0) == 0.0  # refilled to 4, not 200
    limits = InProcessLimits(clock=lambda: 0.0)
    assert await limits.take("p1", 3, rate=1.0, burst=3) == 0.0
    assert await limits.take("p1", 1, rate=1.0, burst=3) == pytest.approx(1.0)
    assert await limits.take("p1", 1, rate=1.0, burst=5) == 0.0  # new terms, a fresh bucket
    assert await limits.take("p2", 3, rate=1.0, burst=3) == 0.0  # another partner's own bucket


@pytest.mark.db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"sub_code": "55a6"}, "sub_code"),
        ({"sub_code": "123456789"}, "sub_code"),
        ({"sub_code": "5566", "reserved_sub_codes": ["5566"]}, "sub_code"),
        ({"links": [_link("smpp", "1" * 18)]}, "sub_code"),
        ({"terms": service.PartnerTerms("x", ["10.0.0.300"])}, "ip_allow"),
        ({"terms": service.PartnerTerms("")}, "display_name"),
        ({"terms": service.PartnerTerms("x", daily_quota=0)}, "daily_quota"),
        ({"terms": service.PartnerTerms("x", rate_per_second=0)}, "rate_per_second"),
        ({"terms": service.PartnerTerms("x", burst=0)}, "burst"),
    ],
)
def test_bad_partner_fields_are_named(db_url: str, changes, field) -> None:  # type: ignore[no-untyped-def]
    arguments = {"name": "insurer", "sub_code": "5566", "terms": TERMS, "actor": "t", **changes}
    with pytest.raises(service.PartnerError) as caught:
        in_session(db_url, lambda s: service.create_partner(s, **arguments))
    assert caught.value.field == field, caught.value


@pytest.mark.db
def test_names_and_sub_codes_are_unique_and_changes_audited(db_url: str) -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        await service.create_partner(session, name="insurer", sub_code="5566", terms=TERMS,
                                     actor="t")  # fmt: skip
        for name, sub_code in (("insurer", "7788"), ("other", "5566")):
            with pytest.raises(service.PartnerError) as caught:
                await service.create_partner(session, name=name, sub_code=sub_code, terms=TERMS,
                                             actor="t")  # fmt: skip
            assert caught.value.status == 409

    in_session(db_url, work)


@pytest.mark.db
def test_a_sub_code_taken_between_the_check_and_the_insert_is_a_409_not_a_500(
    db_url: str,
) -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        await service.create_partner(session, name="insurer", sub_code="5566", terms=TERMS,
                                     actor="t")  # fmt: skip

        async def nothing_yet(*_args, **_kwargs):  # type: ignore[no-untyped-def]
            return None  # the other request had not committed when the checks read

        session.scalar = nothing_yet
        with pytest.raises(service.PartnerError) as caught:
            await service.create_partner(session, name="other", sub_code="5566", terms=TERMS,
                                         actor="t")  # fmt: skip
        assert caught.value.status == 409
        del session.scalar
        assert await session.scalar(select(func.count()).select_from(Partner)) == 1

    in_session(db_url, work)


@pytest.mark.db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "display_name": "X", "sub_code": "12a"}, "sub_code"),
        ({"name": "x", "display_name": "X", "sub_code": "1", "ip_allow": ["nonsense"]}, "ip_allow"),
        ({"name": "x", "display_name": "X", "sub_code": "1", "daily_quota": 0}, "daily_quota"),
        ({"name": "x", "display_name": "X", "sub_code": "1", "burst": 20_000}, "burst"),
        ({"name": "x", "display_name": "X", "sub_code": "1", "surprise": 1}, "surprise"),
        ({"display_name": "X", "sub_code": "1"}, "name"),
    ],
)
def test_the_admin_api_names_bad_fields(client, body, field) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    response = client.post("/api/v1/partners", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert client.get("/api/v1/partners").json() == []


@pytest.mark.db
def test_the_admin_pages_add_a_partner_and_show_a_key_once(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    token = CSRF.search(client.get("/partners").text).group(1)
    form = {"name": "insurer", "display_name": "某某保险", "sub_code": "5566",
            "ip_allow": "203.0.113.0/24, 198.51.100.7", "csrf": token}  # fmt: skip
    made = client.post("/partners", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/partners/insurer"
    again = client.post("/partners", data=form)
    assert "already exists" in again.text
    keyed = client.post("/partners/insurer/key", data={"csrf": token})
    assert 'data-testid="created-key"' in keyed.text and "kefu_" in keyed.text
    assert "kefu_" not in client.get("/partners/insurer").text  # shown once
    partner = client.get("/api/v1/partners").json()[0]
    assert partner["ip_allow"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert partner["keys"] == ["partner:insurer:1"]


@pytest.mark.db
def test_the_cli_adds_lists_keys_and_disables(db_url: str) -> None:
    runner = CliRunner()
    base = ["--database-url", db_url]
    added = runner.invoke(cli, ["partner", "add", "insurer", "--sub-code", "5566",
                                "--display-name", "某某保险", "--allow", "203.0.113.0/24", *base])  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = runner.invoke(cli, ["partner", "add", "x", "--sub-code", "55a", "--display-name", "X",
                              *base])  # fmt: skip
    assert bad.exit_code == 2 and "sub_code" in bad.output
    key = runner.invoke(cli, ["partner", "key", "insurer", *base])
    assert key.exit_code == 0 and key.output.strip().startswith("kefu_")
    assert runner.invoke(cli, ["partner", "disable", "insurer", *base]).exit_code == 0
    listed = runner.invoke(cli, ["partner", "list", *base]).output
    assert "insurer\t5566\tdisabled" in listed and "203.0.113.0/24" in listed
    missing = runner.invoke(cli, ["partner", "key", "nobody", *base])
    assert missing.exit_code == 2 and "no partner called" in missing.output


def _serve_echo(**options):  # type: ignore[no-untyped-def]
    """A real uvicorn answering with the client address the application sees."""

    async def whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.client.host if request.client else "")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(Starlette(routes=[Route("/", whoami)]), log_level="warning",
                            **options)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.mark.parametrize(("proxies", "seen"), [([], "127.0.0.1"), (["127.0.0.1"], "203.0.113.7")])
def test_x_forwarded_for_is_believed_only_from_configured_proxies(proxies, seen) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(forwarded_allow_ips=proxies)
    server, thread, url = _serve_echo(**settings.proxy_options())
    try:
        answer = httpx.get(url, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
        assert answer.text == seen
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.db
def test_the_partner_role_is_for_keys_not_logins(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    made = client.post("/api/v1/users", json={"username": "cp", "password": "Pa55word-long!",
                                              "role": "partner"})  # fmt: skip
    # Refused by the schema: the roles a login may have are listed, "partner" is not one.
    assert made.status_code == 422 and "role" in made.json()["detail"]
