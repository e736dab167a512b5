"""Staff second factor (issue 21, "staff sign-in that banks expect"): TOTP per RFC 6238."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kefu.app import create_app
from kefu.auth import totp
from kefu.cli import app as cli_app
from kefu.config import load_settings
from kefu.db.base import utcnow
from tests.conftest import CSRF, login

SECRET = re.compile(r'data-secret="([A-Z2-7]+)"')


def test_rfc_6238_vectors_and_the_window() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
    # RFC 6238 appendix B (SHA1), last six of the eight digits.
    assert totp.code_at(secret, 59 // 30) == "287082"
    assert totp.code_at(secret, 1111111109 // 30) == "081804"
    at = datetime.fromtimestamp(1111111109, UTC)
    step = totp.step_at(at)
    assert totp.verify(secret, "081804", at, None) == step
    assert totp.verify(secret, "081804", at + timedelta(seconds=30), None) == step  # drift
    assert totp.verify(secret, "081804", at + timedelta(seconds=90), None) is None  # too old
    assert totp.verify(secret, "081804", at, step) is None  # used already
    assert totp.verify(secret, "08180x", at, None) is None
    assert totp.provisioning_uri(secret, "admin").startswith("otpauth://totp/kefu%3Aadmin?secret=")


async def _actions(url: str, actor: str) -> list[str]:
    from sqlalchemy import select

    from kefu.audit.models import AuditEntry
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            query = select(AuditEntry.action).where(AuditEntry.actor == actor)
            return list((await db.scalars(query.order_by(AuditEntry.id))).all())
    finally:
        await engine.dispose()


def _code(secret: str, steps_ahead: int = 0) -> str:
    return totp.code_at(secret, totp.step_at(utcnow()) + steps_ahead)


def _submit(client: TestClient, code: str):  # type: ignore[no-untyped-def]
    token = CSRF.search(client.get("/login/totp").text).group(1)
    return client.post("/login/totp", data={"code": code, "csrf": token}, follow_redirects=False)


@pytest.fixture
def default_settings(seeded_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Settings as a deployment gets them: the suite's own ``[]`` (tests/conftest.py) removed,
    so ``totp_required_roles`` is the default."""
    monkeypatch.delenv("KEFU_TOTP_REQUIRED_ROLES", raising=False)
    return load_settings(database_url=seeded_url, secret_key="t")


def test_admins_need_an_authenticator_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEFU_TOTP_REQUIRED_ROLES", raising=False)
    assert load_settings().totp_required_roles == ["admin"]
    monkeypatch.setenv("KEFU_TOTP_REQUIRED_ROLES", "[]")  # the way to turn it off (the demo)
    assert load_settings().totp_required_roles == []


@pytest.mark.db
def test_admins_enrol_then_sign_in_with_a_code(default_settings, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(default_settings)) as client:
        first = login(client, "admin")
        assert first.status_code == 303 and first.headers["location"] == "/login/totp"
        assert client.get("/api/v1/users").status_code == 401  # no session before the code
        page = client.get("/login/totp")
        secret = SECRET.search(page.text).group(1)
        assert "otpauth://totp/" in page.text
        # The enrolment page: the key as a QR code (inline SVG, no image fetched) and as text.
        qr = re.search(r'data-testid="totp-qr"[^>]*>(.*?)</figure>', page.text, re.S)
        assert qr and qr.group(1).startswith("<svg") and "<path" in qr.group(1)
        assert totp.grouped(secret) in page.text
        assert (
            _submit(client, "000000" if _code(secret) != "000000" else "111111").status_code == 401
        )
        used = _code(secret)
        done = _submit(client, used)
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert client.get("/api/v1/users").status_code == 200
        # Next login: enrolled, so asked for a code; the code just used does not work twice.
        token = CSRF.search(client.get("/").text).group(1)
        client.post("/logout", data={"csrf": token})
        assert login(client, "admin").headers["location"] == "/login/totp"
        page = client.get("/login/totp")
        assert "data-secret" not in page.text  # the key is shown only while enrolling
        assert _submit(client, used).status_code == 401
        assert _submit(client, _code(secret, 1)).status_code == 303
        actions = asyncio.run(_actions(seeded_url, "admin"))
        assert actions[-4:] == [
            "login.password_ok",
            "login.totp_failed",
            "login.totp_ok",
            "login.success",
        ]
        # Roles not required and not enrolled sign in as before.
        client.cookies.clear()
        assert login(client, "agent1").headers["location"] == "/"


@pytest.mark.db
def test_codes_are_throttled_like_passwords(default_settings) -> None:  # type: ignore[no-untyped-def]
    settings = default_settings.model_copy(update={"login_max_failures": 3})
    with TestClient(create_app(settings)) as client:
        login(client, "admin")
        secret = SECRET.search(client.get("/login/totp").text).group(1)
        wrong = "123456" if _code(secret) != "123456" else "654321"
        answers = [_submit(client, wrong).status_code for _ in range(2)]
        token = CSRF.search(client.get("/login/totp").text).group(1)
        third = client.post("/login/totp", data={"code": wrong, "csrf": token})
        assert answers == [401, 401] and third.status_code == 401
        login(client, "admin")
        token = CSRF.search(client.get("/login/totp").text).group(1)
        locked = client.post("/login/totp", data={"code": _code(secret), "csrf": token})
        assert locked.status_code == 423  # even the right code, until the lock-out ends


@pytest.mark.db
def test_an_administrator_resets_an_authenticator(seeded_url: str) -> None:
    settings = load_settings(database_url=seeded_url, secret_key="t",
                             totp_required_roles=["supervisor"])  # fmt: skip
    with TestClient(create_app(settings)) as client:
        login(client, "supervisor")
        secret = SECRET.search(client.get("/login/totp").text).group(1)
        assert _submit(client, _code(secret)).status_code == 303
        client.cookies.clear()
        assert login(client, "admin").headers["location"] == "/"
        assert client.post("/api/v1/users/supervisor/totp/reset").json() == {"reset": True}
        client.cookies.clear()
        login(client, "supervisor")
        again = SECRET.search(client.get("/login/totp").text).group(1)
        assert again != secret  # a new key to enrol


@pytest.mark.db
def test_the_cli_resets_a_lost_authenticator(default_settings, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    """The way back in when the only administrator lost their phone: ``kefu user reset-totp``
    on the server, audited; the next login enrols a new key."""
    with TestClient(create_app(default_settings)) as client:
        login(client, "admin")
        secret = SECRET.search(client.get("/login/totp").text).group(1)
        assert _submit(client, _code(secret)).status_code == 303
        result = CliRunner().invoke(cli_app, ["user", "reset-totp", "admin",
                                              "--database-url", seeded_url])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "authenticator removed" in result.output
        assert client.get("/api/v1/users").status_code == 401  # the session ended with it
        assert login(client, "admin").headers["location"] == "/login/totp"
        again = SECRET.search(client.get("/login/totp").text).group(1)
        assert again != secret
        assert _submit(client, _code(again)).status_code == 303
    assert "totp.reset" in asyncio.run(_actions(seeded_url, "cli"))
    unknown = CliRunner().invoke(cli_app, ["user", "reset-totp", "nobody",
                                           "--database-url", seeded_url])  # fmt: skip
    assert unknown.exit_code != 0 and "does not exist" in unknown.output
