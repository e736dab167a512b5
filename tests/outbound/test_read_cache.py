"""The send API's per-process caches (kefu.auth.cache.ReadCache): a verified API key is not
read again for 2 s, a revocation in this process refuses it at once, one by another process
within the 2 s."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from kefu.auth import service
from kefu.auth.cache import MISSING, ReadCache
from kefu.auth.models import ApiKey
from kefu.db.engine import make_engine, make_sessionmaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_and_a_write_during_a_read_is_not_cached() -> None:
    clock = Clock()
    cache: ReadCache[str, int] = ReadCache(ApiKey, ttl=2.0, clock=clock)
    cache.put("a", 1, cache.generation)
    assert cache.get("a") == 1
    clock.now += 2.0
    assert cache.get("a") is MISSING  # expired
    generation = cache.generation  # a reader starts …
    cache.invalidate()  # … a write lands while it reads …
    cache.put("a", 1, generation)  # … and what it read is not kept
    assert cache.get("a") is MISSING


@pytest.mark.db
def test_a_key_is_read_once_per_ttl_and_a_revocation_here_refuses_it_at_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(service._verified, "clock", clock)
    service._verified.invalidate()

    async def go() -> None:
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        try:
            async with factory() as db:
                _, clear = await service.create_api_key(db, name="core", role="admin", actor="t")
                await db.commit()
            # The first use also stamps last_used_at: a write to api_keys, which empties the
            # cache; the second is cached.
            for _ in range(2):
                async with factory() as db:
                    holder = await service.api_key_holder(db, clear)
                    assert holder is not None and holder.name == "core" and holder.role == "admin"
                    await db.commit()
            assert service._verified.get(service.api_key_digest(clear)) == holder
            # Another process revokes it (a plain connection: no ORM session of this one).
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
            async with factory() as db:
                assert await service.api_key_holder(db, clear) == holder  # not read again …
            clock.now += 2.0
            async with factory() as db:
                assert await service.api_key_holder(db, clear) is None  # … for more than 2 s
            # A revocation in this process: refused at once, without waiting for the 2 s.
            async with factory() as db:
                _, other = await service.create_api_key(db, name="core2", role="admin", actor="t")
                await db.commit()
            for _ in range(2):
                async with factory() as db:
                    assert await service.api_key_holder(db, other) is not None
                    await db.commit()
            assert service._verified.get(service.api_key_digest(other)) is not MISSING
            async with factory() as db:
                await service.revoke_api_key(db, name="core2", actor="t")
                await db.commit()
            async with factory() as db:
                assert await service.api_key_holder(db, other) is None
            assert await _wrong_key_never_cached(factory)
        finally:
            await engine.dispose()

    asyncio.run(go())


async def _wrong_key_never_cached(factory) -> bool:  # type: ignore[no-untyped-def]
    async with factory() as db:
        wrong = "kefu_" + "x" * 40
        return await service.api_key_holder(db, wrong) is None and (
            service._verified.get(service.api_key_digest(wrong)) is MISSING
        )


@pytest.mark.db
def test_callers_that_miss_together_read_the_key_once_unless_a_write_came_since(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 requests in flight when the entry runs out all missed at once and each read the key
    row; now the first reads it and the others take its answer, but a caller that arrives
    after a write to api_keys (a revocation) reads the row itself."""
    service._verified.invalidate()
    reads = [0]
    gate = asyncio.Event()
    original = service.verify_api_key

    async def slow_verify(session, clear):  # type: ignore[no-untyped-def]
        reads[0] += 1
        await gate.wait()  # the read is in progress while the others arrive
        return await original(session, clear)

    async def go() -> None:
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        try:
            async with factory() as db:
                _, clear = await service.create_api_key(db, name="core", role="admin", actor="t")
                await db.commit()
            monkeypatch.setattr(service, "verify_api_key", slow_verify)
            sessions = [factory() for _ in range(20)]
            calls = [asyncio.create_task(service.api_key_holder(s, clear)) for s in sessions]
            await asyncio.sleep(0.05)
            assert reads[0] == 1  # one read for twenty callers
            service._verified.invalidate()  # a write to api_keys lands during the read …
            sessions.append(factory())
            late = asyncio.create_task(service.api_key_holder(sessions[-1], clear))
            await asyncio.sleep(0.05)
            assert reads[0] == 2  # … so a caller arriving now reads the row itself
            gate.set()
            holders = await asyncio.gather(*calls, late)
            assert {h.name for h in holders if h is not None} == {"core"}
            assert all(h is not None for h in holders)
            # A wrong key: the followers share the refusal, nothing is cached.
            reads[0] = 0
            wrong = "kefu_" + "y" * 40
            gate.clear()
            sessions += [factory() for _ in range(5)]
            calls = [asyncio.create_task(service.api_key_holder(s, wrong)) for s in sessions[-5:]]
            await asyncio.sleep(0.05)
            gate.set()
            assert await asyncio.gather(*calls) == [None] * 5 and reads[0] == 1
            assert service._verified.get(service.api_key_digest(wrong)) is MISSING
            assert service._reading == {}  # nothing left behind
            for s in sessions:
                await s.close()
        finally:
            await engine.dispose()

    asyncio.run(go())
