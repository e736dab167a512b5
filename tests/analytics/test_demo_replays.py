"""``kefu demo``'s recorded sessions (the committed fixture, recorded in Chromium): seeded once,
moved to the last hours, and found behind a funnel's drop-off and the failing page as real
sessions are; the player gets their rrweb events back, with nothing typed in them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from kefu.analytics import demo_replays, replay
from kefu.analytics.analyses import Period, sessions
from kefu.analytics.enrich import customer_hash
from kefu.analytics.store import DuckDBStore
from kefu.db.engine import make_engine, make_sessionmaker

pytestmark = pytest.mark.db
B = "/demo/bank"


def test_recorded_sessions_are_seeded_once_and_linked(db_url: str) -> None:
    data = demo_replays.load()
    now = datetime.now(UTC)
    store = DuckDBStore(":memory:", threads=1)
    try:
        written = demo_replays.seed_events(store, data, b"demo-key", now)
        assert written == len(data["events"]) > 0
        assert demo_replays.seed_events(store, data, b"demo-key", now) == 0  # once
        assert asyncio.run(demo_replays.seed_replays(db_url, data, now)) == len(data["chunks"])
        assert asyncio.run(demo_replays.seed_replays(db_url, data, now)) == 0
        newest = store.query("SELECT max(ts) FROM events")[0][0]
        assert 0 < (now.replace(tzinfo=None) - newest).total_seconds() <= 3600 + 60
        hashes = {h for (h,) in store.query("SELECT DISTINCT customer_hash FROM events")}
        assert hashes == {"", customer_hash(b"demo-key", demo_replays.DEMO_CUSTOMER)}

        period = Period.last("demo-bank", 2, now.date())
        dropped = sessions.matching(store, period, reached=f"{B}/transfer/verify",
                                    missed=f"{B}/transfer/done")  # fmt: skip
        failing = sessions.matching(store, period, failed=f"{B}/cards/apply", browser="Chrome 122")
        assert len(dropped) == 1 and len(failing) == 1

        async def read() -> tuple[list[str], list[dict]]:
            engine = make_engine(db_url)
            try:
                async with make_sessionmaker(engine)() as db:
                    listed = await replay.sessions(db, "demo-bank", [*dropped, *failing])
                    events = await replay.events_of(db, "demo-bank", dropped[0])
                    return [r.session_id for r in listed], events
            finally:
                await engine.dispose()

        listed, events = asyncio.run(read())
        assert sorted(listed) == sorted([*dropped, *failing])
        assert any(e["type"] == 2 for e in events)  # a full snapshot: the player can draw it
        text = json.dumps(events, ensure_ascii=False)
        assert "6214830000001126488" not in text and "张三" not in text  # typed: masked
    finally:
        store.close()
