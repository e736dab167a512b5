"""Leases (kefu.bus.lease) on each engine: one holder at a time, the lease free again when
its holder releases it or dies, and the ``workers`` role's loops run by one copy only."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from kefu.bus.lease import FileLease, PostgresLease, RedisLease, make_lease
from kefu.config import load_settings
from kefu.runtime import Running, Singleton
from tests.conftest import MARIADB_URL, PG_URL


def _pair(kind: str, tmp_path: Path, redis_url: str | None) -> tuple[Any, Any]:
    name = f"test-{uuid.uuid4().hex[:8]}"  # a key of this test's own on a shared server
    if kind == "file":
        return FileLease(tmp_path / "x.lease", name), FileLease(tmp_path / "x.lease", name)
    if kind == "postgresql":
        assert PG_URL
        return PostgresLease(PG_URL, name), PostgresLease(PG_URL, name)
    if kind == "mariadb":
        assert MARIADB_URL
        return PostgresLease(MARIADB_URL, name), PostgresLease(MARIADB_URL, name)
    assert redis_url
    return RedisLease(redis_url, name, ttl=1.0), RedisLease(redis_url, name, ttl=1.0)


KINDS = (
    ["file", "redis"] + (["postgresql"] if PG_URL else []) + (["mariadb"] if MARIADB_URL else [])
)


@pytest.fixture(params=KINDS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Any]:
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return _pair(request.param, tmp_path, redis)


async def test_one_holder_at_a_time_and_free_after_release(pair: tuple[Any, Any]) -> None:
    first, second = pair
    try:
        assert await first.acquire()
        assert await first.acquire()  # renewing its own
        assert not await second.acquire()
        await first.release()
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_dead_redis_holder_loses_it_after_the_ttl(redis_url: str) -> None:
    first, second = _pair("redis", Path("."), redis_url)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        # The holder stops renewing (its process stalled or died): after the ttl (1 s) the
        # standby gets it, and the old holder's next renewal says it is lost.
        await asyncio.sleep(1.3)
        assert await second.acquire()
        assert not await first.acquire()
        assert await second.holder_now() == second.holder
    finally:
        await first.release()
        await second.release()


@pytest.mark.parametrize("kind", [k for k in KINDS if k in ("postgresql", "mariadb")])
async def test_a_database_holder_whose_connection_drops_frees_it_at_once(kind: str) -> None:
    first, second = _pair(kind, Path("."), None)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        # The server ends the holder's session (its machine went away): the lock goes with it.
        await first._conn.invalidate()  # noqa: SLF001 - the connection dying is the test
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()


def test_the_lease_follows_the_engines_kefu_has(tmp_path: Path) -> None:
    def settings(**values: Any) -> Any:
        return load_settings(secret_key="x", **values)

    on_file = make_lease(settings(database_url=f"sqlite:///{tmp_path}/k.db"), "workers")
    assert isinstance(on_file, FileLease) and on_file.path == tmp_path / "k.db.workers.lease"
    pg = settings(database_url="postgresql://u:p@db/kefu")
    assert isinstance(make_lease(pg, "workers"), PostgresLease)
    # MySQL's URL has no path: it must not fall to the in-memory lease every copy holds.
    mysql = make_lease(settings(database_url="mysql://u:p@db/kefu"), "workers")
    assert isinstance(mysql, PostgresLease) and str(mysql.key).startswith("kefu:lease:")
    with_bus = settings(database_url="postgresql://u:p@db/kefu", bus_url="redis://r:6379/0")
    assert isinstance(make_lease(with_bus, "workers"), RedisLease)


async def test_of_two_copies_one_runs_the_loops_and_the_other_takes_over(tmp_path: Path) -> None:
    """Two ``kefu run workers`` on one lease: one starts the loops, the standby starts them
    only once the first has stopped (and released the lease)."""
    started: list[str] = []
    name = "workers"

    def starter(who: str) -> Any:
        async def start() -> Running:
            started.append(who)
            return Running()

        return start

    a = Singleton(FileLease(tmp_path / "w.lease", name), starter("a"), every=0.05)
    b = Singleton(FileLease(tmp_path / "w.lease", name), starter("b"), every=0.05)
    try:
        await asyncio.wait_for(a.changed.wait(), 5)
        await asyncio.sleep(0.3)  # the standby tries several times meanwhile
        assert started == ["a"] and a.active and not b.active
        await a.stop()
        await asyncio.wait_for(b.changed.wait(), 5)
        assert started == ["a", "b"] and b.active
    finally:
        await a.stop()
        await b.stop()


async def test_loops_that_fail_to_start_are_started_again_while_the_lease_is_held(
    tmp_path: Path,
) -> None:
    tries: list[int] = []

    async def start() -> Running:
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("the bank port is not up yet")
        return Running()

    one = Singleton(FileLease(tmp_path / "w.lease", "workers"), start, every=0.05)
    try:
        await asyncio.wait_for(one.changed.wait(), 5)
        assert one.active and len(tries) == 2
    finally:
        await one.stop()
