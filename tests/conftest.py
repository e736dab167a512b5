"""Shared fixtures. Database tests run on SQLite always, again on PostgreSQL when
KEFU_TEST_DATABASE_URL names one and on MariaDB/MySQL when KEFU_TEST_MARIADB_URL does
(``.ci/run`` starts the servers and sets them)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

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


def _mysql_connect(url: str, database: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql
    from sqlalchemy.engine import make_url

    parts = make_url(normalise_database_url(url))
    return pymysql.connect(
        host=parts.host, port=parts.port or 3306, user=parts.username,
        password=parts.password or "", database=database, charset="utf8mb4", autocommit=True,
    )  # fmt: skip


def _create_mysql_database(conn, name: str) -> None:  # type: ignore[no-untyped-def]
    # The binary collation: text compares as on PostgreSQL and SQLite (docs/deploy.md).
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


def _worker_mariadb(url: str | None) -> str | None:
    """Like ``_worker_database``, for KEFU_TEST_MARIADB_URL: ``<name>_<worker>`` per worker,
    created when missing (without workers too: tests that need no fresh one use it as is)."""
    if not url:
        return url
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base, name = url.split("?", 1)[0].rsplit("/", 1)
    own = f"{name}_{worker}" if worker else name
    conn = _mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (own,))
            exists = cur.fetchone()
        if not exists:
            _create_mysql_database(conn, own)
    finally:
        conn.close()
    os.environ["KEFU_TEST_MARIADB_URL"] = f"{base}/{own}"
    return f"{base}/{own}"


PG_URL = _worker_database(os.environ.get("KEFU_TEST_DATABASE_URL"))
MARIADB_URL = _worker_mariadb(os.environ.get("KEFU_TEST_MARIADB_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else []) + (["mariadb"] if MARIADB_URL else [])
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


def _reset_mariadb(url: str) -> None:
    name = url.split("?", 1)[0].rsplit("/", 1)[1]
    conn = _mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        _create_mysql_database(conn, name)
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def session_on(db_url: str) -> AsyncIterator[AsyncSession]:
    """A session on ``db_url`` (committed by the caller), its engine disposed after."""
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def fresh_database(backend: str, folder: Path) -> str:
    """The URL of an empty database on ``backend`` (a BACKENDS value); SQLite's in ``folder``."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'kefu.db'}"
    if backend == "mariadb":
        assert MARIADB_URL
        _reset_mariadb(MARIADB_URL)
        return MARIADB_URL
    assert PG_URL
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    return fresh_database(request.param, tmp_path)


# The migrated schema of MariaDB, read once per test process from a database migrated for it:
# (tables' DDL, their names, triggers' DDL).
_MARIADB_SCHEMA: list[tuple[list[str], list[str], list[str]]] = []


def _migrate_mariadb(url: str) -> None:
    """``upgrade(url)`` for an empty MariaDB database, as a copy of a database this process
    migrated once (``<name>_tmpl``): the same DDL, rows (alembic_version's) and triggers. A
    real migration takes ~12 s on MariaDB (DDL commits one by one) where the copy takes < 1 s,
    and CI migrates a fresh database for each of several hundred tests. The migrations
    themselves are tested by the tests that call ``upgrade`` (``empty_db_url``)."""
    from kefu.db.migrate import upgrade

    source = url.split("?", 1)[0].rsplit("/", 1)[1] + "_tmpl"
    if not _MARIADB_SCHEMA:
        template = url.split("?", 1)[0].rsplit("/", 1)[0] + "/" + source
        _reset_mariadb(template)
        upgrade(template)
        conn = _mysql_connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (source,),
                )
                tables = [row[0] for row in cur.fetchall()]
                ddl = []
                for table in tables:
                    cur.execute(f"SHOW CREATE TABLE `{source}`.`{table}`")
                    ddl.append(cur.fetchone()[1])
                cur.execute(f"SHOW TRIGGERS FROM `{source}`")
                triggers = []
                for row in cur.fetchall():
                    cur.execute(f"SHOW CREATE TRIGGER `{source}`.`{row[0]}`")
                    triggers.append(cur.fetchone()[2])
        finally:
            conn.close()
        _MARIADB_SCHEMA.append((ddl, tables, triggers))
    ddl, tables, triggers = _MARIADB_SCHEMA[0]
    name = url.split("?", 1)[0].rsplit("/", 1)[1]
    conn = _mysql_connect(url, name)
    try:
        with conn.cursor() as cur:
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")  # tables in any order
            for statement in ddl:
                cur.execute(statement)
            for table in tables:
                cur.execute(f"INSERT INTO `{table}` SELECT * FROM `{source}`.`{table}`")
            for statement in triggers:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A fresh database migrated to the latest schema."""
    from kefu.db.migrate import upgrade

    if empty_db_url == MARIADB_URL:
        _migrate_mariadb(empty_db_url)
    else:
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
