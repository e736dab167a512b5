"""``kefu demo``'s recorded sessions: three real visits to the demo bank site, recorded once in
Chromium by ``scripts/record_demo_replays.py`` (a transfer abandoned at its SMS-code step, the
card application failing on Chrome 122, a spring-card campaign visitor who applies), so the
replay list, a funnel's drop-off and the failing page link to real replays on first start.

Seeded once (their sessions are looked for first), moved in time so they end a few hours
before now: their events into the event store (the collector's rows, as recorded; the signed-in
customer's hash recomputed with this installation's key) and their replay chunks into kefu's
database, as the collector and the replay endpoint stored them.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kefu.analytics.enrich import customer_hash
from kefu.analytics.models import ReplayChunk
from kefu.analytics.store.base import COLUMNS, EventStore

FIXTURE = Path(__file__).parent / "data" / "demo_replays.json.gz"
SITE = "demo-bank"
DEMO_CUSTOMER = "6200000001"  # who the demo site's signed-in pages say is signed in
SPACING = timedelta(hours=3)  # the recorded sessions end 1, 4, 7 hours ago


def load(path: Path = FIXTURE) -> dict[str, Any]:
    return json.loads(gzip.decompress(path.read_bytes()))


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def shifts(data: dict[str, Any], now: datetime) -> dict[str, timedelta]:
    """Per session: how far to move it so the sessions end an hour, four hours… ago."""
    ends: dict[str, datetime] = {}
    for e in data["events"]:
        at = _when(e["ts"])
        ends[e["session_id"]] = max(ends.get(e["session_id"], at), at)
    order = sorted(ends, key=lambda s: ends[s])
    return {s: now - timedelta(hours=1) - k * SPACING - ends[s]
            for k, s in enumerate(reversed(order))}  # fmt: skip


def seed_events(store: EventStore, data: dict[str, Any], key: bytes, now: datetime) -> int:
    """The recorded events, moved, unless their sessions are in the store already."""
    move = shifts(data, now)
    marks = ", ".join("?" * len(move))
    found = store.query(f"SELECT count(*) FROM events WHERE session_id IN ({marks})", list(move))
    if not move or found[0][0]:
        return 0
    hashed = customer_hash(key, DEMO_CUSTOMER)
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for e in data["events"]:
        at = (_when(e["ts"]) + move[e["session_id"]]).replace(tzinfo=None)
        row = e | {
            "ts": at,
            "day": at.date(),
            "customer_hash": hashed if e["customer_hash"] else "",
        }
        for name in COLUMNS:
            columns[name].append(row[name])
    return store.insert(columns)


async def seed_chunks(db: Any, data: dict[str, Any], now: datetime) -> int:
    """The recorded replay chunks, moved, unless their sessions have replays already; the
    caller commits."""
    move = shifts(data, now)
    have = await db.scalar(select(func.count()).select_from(ReplayChunk).where(
        ReplayChunk.site == SITE, ReplayChunk.session_id.in_(list(move))))  # fmt: skip
    if have or not move:
        return 0
    for c in data["chunks"]:
        shift = move[c["session"]]
        first, last = _when(c["first_ts"]) + shift, _when(c["last_ts"]) + shift
        db.add(ReplayChunk(site=SITE, session_id=c["session"], visitor_id=c["visitor"],
                           seq=c["seq"], first_ts=first, last_ts=last, events=c["events"],
                           raw_bytes=c["raw_bytes"], blob=base64.b64decode(c["blob"]),
                           received_at=last))  # fmt: skip
    return len(data["chunks"])


async def seed_replays(database_url: str, data: dict[str, Any], now: datetime) -> int:
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            count = await seed_chunks(db, data, now)
            await db.commit()
            return count
    finally:
        await engine.dispose()
