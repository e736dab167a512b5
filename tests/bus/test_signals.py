"""Committed writes become bus signals, and a live page wakes on them instead of polling."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import Integer, String
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kefu.bus.memory import InProcessBus
from kefu.bus.signals import publish_commits
from kefu.db.engine import make_sessionmaker
from kefu.web import live


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "signal_test_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(20))


@pytest.fixture
async def sessions():  # type: ignore[no-untyped-def]
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_a_commit_signals_its_topic_and_a_rollback_does_not(sessions) -> None:  # type: ignore[no-untyped-def]
    bus = InProcessBus()
    stop = publish_commits(bus, {"signal_test_notes": "notes"})
    try:
        async with bus.subscribe("notes") as events:
            async with sessions() as db:
                db.add(Note(text="rolled back"))
                await db.flush()
                await db.rollback()
                db.add(Note(text="kept"))
                await db.commit()
            got = await asyncio.wait_for(anext(events), 5)
            assert got == {"tables": "signal_test_notes"}
            with pytest.raises(TimeoutError):  # one commit, one signal: the rollback sent none
                await asyncio.wait_for(anext(events), 0.2)
    finally:
        stop()
    async with bus.subscribe("notes") as events, sessions() as db:
        db.add(Note(text="after stop"))
        await db.commit()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(events), 0.2)


async def test_a_live_stream_wakes_on_the_signal_not_on_its_fallback_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "FALLBACK_IN_PROCESS", 3600.0)  # only the signal can wake it
    bus = InProcessBus()
    marker = {"value": 1, "reads": 0}

    async def read(_request: object) -> int:
        marker["reads"] += 1
        return marker["value"]

    async def connected() -> bool:
        return False

    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(bus=bus)),
                              is_disconnected=connected)  # fmt: skip
    response = live.marker_events(request, read, poll_seconds=0.5, max_seconds=60,  # type: ignore[arg-type]
                                  wake="workspace")  # fmt: skip
    body = response.body_iterator
    assert "event: hello" in await asyncio.wait_for(anext(body), 5)
    await asyncio.sleep(0.1)  # subscribed, waiting
    marker["value"] = 2
    await bus.publish("workspace", {"tables": "messages"})
    changed = await asyncio.wait_for(anext(body), 5)
    assert changed == "event: changed\ndata: 2\n\n"
    assert marker["reads"] == 2  # the hello and the woken read: no polling in between
    await body.aclose()  # type: ignore[attr-defined]
