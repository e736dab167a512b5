"""kefu.db.unavailable tells "the database is not reachable now" (503, come back) from a bug
(500), on the errors the real drivers raise: each case is produced, not constructed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.config import normalise_database_url
from kefu.db.unavailable import is_unavailable
from tests.conftest import MARIADB_URL, PG_URL
from tests.ports import free_port


async def _error_of(url: str, *statements: str, **engine: object) -> BaseException:
    """The error running ``statements`` (``SELECT 1`` if none) on one connection raises."""
    db = create_async_engine(normalise_database_url(url), **engine)  # type: ignore[arg-type]
    try:
        async with db.connect() as conn:
            for sql in statements or ("SELECT 1",):
                await conn.execute(text(sql))
    except Exception as exc:  # noqa: BLE001 - the error is what the test looks at
        return exc
    finally:
        await db.dispose()
    raise AssertionError("no error")


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_connection_refused_is_unavailable(scheme: str) -> None:
    # asyncpg raises a bare ConnectionRefusedError on connect; aiomysql an OperationalError 2003.
    error = asyncio.run(_error_of(f"{scheme}://kefu:kefu@127.0.0.1:{free_port()}/kefu"))
    assert is_unavailable(error), repr(error)


def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    from kefu.db.engine import make_engine

    async def go() -> BaseException:
        db = make_engine(f"sqlite:///{tmp_path}")  # a directory: SQLite cannot open it
        try:
            async with db.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return exc
        finally:
            await db.dispose()
            await asyncio.sleep(0.3)  # aiosqlite's thread ends after a failed connect
        raise AssertionError("no error")

    error = asyncio.run(go())
    assert is_unavailable(error), repr(error)


def test_application_errors_are_not() -> None:
    try:
        Path("/nonexistent/kefu/file").read_text()
    except OSError as exc:  # an OSError of the application's own: a bug, a 500
        assert not is_unavailable(exc)
    assert not is_unavailable(ValueError("x"))
    assert not is_unavailable(TimeoutError())  # not raised through a database driver


def test_sqlite_constraint_error_is_not(tmp_path: Path) -> None:
    async def go() -> BaseException | None:
        db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/k.db")
        found = None
        async with db.connect() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            try:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
            except IntegrityError as exc:
                found = exc
            await conn.rollback()
        await db.dispose()
        return found

    error = asyncio.run(go())
    assert error is not None and not is_unavailable(error)


def test_pool_timeout_is_unavailable(tmp_path: Path) -> None:
    async def go() -> BaseException:
        db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/k.db", pool_size=1,
                                 max_overflow=0, pool_timeout=0.1)  # fmt: skip
        try:
            async with db.connect(), db.connect():
                pass
        except Exception as exc:  # noqa: BLE001
            return exc
        finally:
            await db.dispose()
        raise AssertionError("no error")

    assert is_unavailable(asyncio.run(go()))


needs_pg = pytest.mark.skipif(not PG_URL, reason="KEFU_TEST_DATABASE_URL is not set")


@needs_pg
def test_postgres_read_only_write_is_unavailable() -> None:
    # What a demoted primary or a standby not yet promoted answers a write (25006).
    error = asyncio.run(
        _error_of(PG_URL or "", "SET TRANSACTION READ ONLY", "CREATE TABLE kefu_ro_probe (x int)")
    )
    assert getattr(error.orig, "sqlstate", None) == "25006"  # type: ignore[attr-defined]
    assert is_unavailable(error)


@needs_pg
def test_postgres_connection_terminated_mid_session_is_unavailable() -> None:
    # pg_ctl restart -m fast ends every session with 57P01 (admin_shutdown), as this does.
    async def go() -> BaseException:
        db = create_async_engine(normalise_database_url(PG_URL or ""))
        try:
            async with db.connect() as conn:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
                async with db.connect() as other:
                    await other.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
                await asyncio.sleep(0.2)
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return exc
        finally:
            await db.dispose()
        raise AssertionError("no error")

    error = asyncio.run(go())
    assert is_unavailable(error), repr(error)


@pytest.mark.skipif(not MARIADB_URL, reason="KEFU_TEST_MARIADB_URL is not set")
def test_mariadb_write_in_read_only_transaction_is_unavailable() -> None:
    async def go() -> BaseException:
        db = create_async_engine(normalise_database_url(MARIADB_URL or ""))
        try:
            async with db.connect() as conn:
                await conn.execute(text("CREATE TABLE IF NOT EXISTS kefu_ro_probe (x int)"))
                await conn.commit()
                await conn.execute(text("START TRANSACTION READ ONLY"))
                await conn.execute(text("INSERT INTO kefu_ro_probe VALUES (1)"))
        except Exception as exc:  # noqa: BLE001
            return exc
        finally:
            async with db.begin() as conn:
                await conn.execute(text("DROP TABLE IF EXISTS kefu_ro_probe"))
            await db.dispose()
        raise AssertionError("no error")

    error = asyncio.run(go())
    assert getattr(error.orig, "args", [None])[0] == 1792  # type: ignore[attr-defined]
    assert is_unavailable(error)


@needs_pg
def test_multi_host_url_follows_the_writable_host() -> None:
    # The way to name a primary and its standby without a proxy (docs/deploy.md): the first
    # host refuses (the old primary is down), the second is the writable one.
    from kefu.db.engine import make_engine

    base, name = (PG_URL or "").rsplit("/", 1)
    port = base.rsplit(":", 1)[1]
    hosts = f"host=127.0.0.1:{free_port()}&host=127.0.0.1:{port}"

    async def go(attrs: str, hosts: str = hosts) -> object:
        db = make_engine(f"postgresql://kefu:kefu@/{name}?{hosts}&target_session_attrs={attrs}")
        try:
            async with db.connect() as conn:
                return (await conn.execute(text("SELECT pg_is_in_recovery()"))).scalar()
        except Exception as exc:  # noqa: BLE001
            return exc
        finally:
            await db.dispose()

    assert asyncio.run(go("read-write")) is False  # connected, to the primary
    # No host is what is asked (only a standby is up, the other refuses): unavailable too.
    for only in (hosts, f"host=127.0.0.1:{port}&host=127.0.0.1:{port}"):
        error = asyncio.run(go("standby", only))
        assert isinstance(error, BaseException) and is_unavailable(error), repr(error)
