"""Shared fixtures. Database tests run on SQLite always, and again on PostgreSQL when
KEFU_TEST_DATABASE_URL names one (``.ci/run`` starts a server and sets it)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

# Before kefu.auth is imported: the cheap argon2 profile (see kefu.auth.passwords).
os.environ.setdefault("KEFU_PASSWORD_HASHING", "fast")
# The suite signs staff in with passwords alone; tests/auth/test_totp.py tests the default
# (admins need an authenticator) by removing this (docs/security.md, "Staff sign-in").
os.environ.setdefault("KEFU_TOTP_REQUIRED_ROLES", "[]")

from kefu.config import load_settings, normalise_database_url


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist (``make test`` runs two workers) each worker gets its own PostgreSQL
    database, ``<name>_<worker>``, created on first use: every test resets the schema of the
    one it uses. The variable is rewritten too, for tests that read it themselves."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    import asyncpg

    base, name = url.rsplit("/", 1)
    own = f"{name}_{worker}"

    async def create() -> None:
        dsn = normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", own)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{own}"')
        finally:
            await conn.close()

    asyncio.run(create())
    os.environ["KEFU_TEST_DATABASE_URL"] = f"{base}/{own}"
    return f"{base}/{own}"


PG_URL = _worker_database(os.environ.get("KEFU_TEST_DATABASE_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
AS_OF = date(2026, 11, 29)
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("KEFU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _reset_postgres(url: str) -> None:
    import asyncpg

    async def go() -> None:
        dsn = normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kefu.db'}"
    assert PG_URL
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A fresh database migrated to the latest schema."""
    from kefu.db.migrate import upgrade

    upgrade(empty_db_url)
    return empty_db_url


def seed_sync(url: str, customers: int, seed: int = 7) -> None:
    from kefu.bank.synthetic.seeder import seed as do_seed
    from kefu.db.engine import make_engine

    async def go() -> None:
        engine = make_engine(url)
        try:
            await do_seed(engine, customers=customers, seed=seed, as_of=AS_OF)
        finally:
            await engine.dispose()

    asyncio.run(go())


@pytest.fixture
def seeded_url(db_url: str) -> str:
    """Migrated, with a small synthetic bank and the demo staff (password DEMO_PASSWORD)."""
    from kefu.demo import ensure_demo_data

    seed_sync(db_url, 20)
    asyncio.run(ensure_demo_data(db_url))
    return db_url


@pytest.fixture
def app_settings(seeded_url: str):  # type: ignore[no-untyped-def]
    # The API documents and metrics are served here as a deployment that enables them would
    # (both are off by default: docs/security.md).
    return load_settings(
        database_url=seeded_url, secret_key="test-secret", login_lockout_seconds=60,
        api_docs_public=True, metrics_public=True,
    )  # fmt: skip


@pytest.fixture
def client(app_settings) -> Iterator:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from kefu.app import create_app

    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def login(client, username: str, password: str | None = None):  # type: ignore[no-untyped-def]
    from kefu.demo import DEMO_PASSWORD

    page = client.get("/login")
    token = CSRF.search(page.text).group(1)
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password or DEMO_PASSWORD,
            "csrf": token,
            "next": "/",
        },
        follow_redirects=False,
    )
