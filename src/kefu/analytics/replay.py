"""Session replay: the chunks of rrweb events the replay bundle uploads
(``POST /collect/{site}/replay``), checked, masked again, compressed and kept in kefu's
database (``analytics_replay_chunks``; kefu.analytics.models says why there), and read back
whole for the player.

Privacy is decided in the browser first — the recorder masks every input (``maskAllInputs``)
and blocks elements marked private (``.kefu-private``, ``[data-private]``), so what was typed
or marked never leaves the page — and again here: every string in an uploaded chunk that
holds a phone, ID or card number is masked (kefu.analytics.enrich.mask) before it is stored,
so a number printed on the page (an account number in a table) is not kept either.

Refusals follow the event collector's style (an answer and a counter, never an exception):
unknown site or a site without replay 404; not JSON 400; wrong shape 422; over
``replay_chunk_bytes`` (raw) 413; a session over ``replay_session_bytes`` 413; a chunk number
sent before 409; times after the chunk was sent beyond the clock skew 422.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import enrich
from kefu.analytics.models import ReplayChunk
from kefu.analytics.settings import AnalyticsSettings

Id = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class RrwebEvent(BaseModel):
    """One rrweb event: its kind (0–6 in rrweb 2, a few more kept for plugins), time and data,
    kept as sent (the player understands it; masking walks it below)."""

    model_config = {"extra": "forbid"}

    type: int = Field(ge=0, le=10)
    timestamp: int = Field(ge=0)
    data: dict[str, Any] = Field(default_factory=dict)
    delay: int | None = None


class ChunkIn(BaseModel):
    model_config = {"extra": "forbid"}

    v: int = Field(default=1, ge=1, le=1)
    sent_at: int = Field(ge=0)
    visitor: str = Id
    session: str = Id
    seq: int = Field(ge=0, le=100_000)
    events: list[RrwebEvent] = Field(min_length=1, max_length=20_000)


@dataclass
class ReplayOutcome:
    status: int
    detail: str = ""
    stored_bytes: int = 0


refused: Counter[str] = Counter()  # per process, shown beside the collector's counters


def _mask_tree(node: Any) -> Any:
    """Every string in the tree masked where it holds a phone, ID or card number."""
    if isinstance(node, str):
        return enrich.mask(node)
    if isinstance(node, dict):
        return {k: _mask_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_tree(v) for v in node]
    return node


def _refuse(status: int, reason: str, detail: str) -> ReplayOutcome:
    refused[reason] += 1
    return ReplayOutcome(status, detail)


def parse(
    settings: AnalyticsSettings, site: str, body: bytes, now: float
) -> tuple[ChunkIn | None, ReplayOutcome | None]:
    """The chunk, or the refusal to send."""
    known = {s.key: s for s in settings.sites}
    if site not in known or not known[site].replay:
        return None, _refuse(404, "unknown_site", "no such site, or replay is off for it")
    if len(body) > settings.replay_chunk_bytes:
        return None, _refuse(413, "too_big", f"a chunk over {settings.replay_chunk_bytes} bytes")
    # The standard library parses: a page's snapshot nests two levels per DOM level, deeper
    # than pydantic's JSON parser allows (it refuses ~100 DOM levels); the envelope is then
    # checked by pydantic, which does not walk the events' data.
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None, _refuse(400, "malformed", "the body is not JSON")
    try:
        chunk = ChunkIn.model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, _refuse(422, "invalid", f"{where}: {first['msg']}")
    skew_ms = settings.clock_skew_seconds * 1000
    if any(e.timestamp > chunk.sent_at + skew_ms for e in chunk.events):
        return None, _refuse(422, "future", "an event is later than the chunk was sent")
    if abs(now * 1000 - chunk.sent_at) > settings.max_age_hours * 3600_000:
        return None, _refuse(422, "stale", "the chunk's clock is too far from the server's")
    return chunk, None


def pack(chunk: ChunkIn, now: float) -> tuple[bytes, int, datetime, datetime]:
    """(gzip of the masked events' JSON, raw JSON size, first and last event times on the
    server's clock: the sender's clock error is corrected as for events)."""
    events = [_mask_tree(e.model_dump(exclude_none=True)) for e in chunk.events]
    raw = json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode()
    offset = now - chunk.sent_at / 1000
    times = [e.timestamp / 1000 + offset for e in chunk.events]
    first = datetime.fromtimestamp(min(times), UTC)
    last = datetime.fromtimestamp(max(times), UTC)
    return gzip.compress(raw, compresslevel=6), len(raw), first, last


async def store(
    db: AsyncSession, settings: AnalyticsSettings, site: str, body: bytes, now: float
) -> ReplayOutcome:
    chunk, refusal = parse(settings, site, body, now)
    if refusal is not None:
        return refusal
    assert chunk is not None
    used = await db.scalar(
        select(func.coalesce(func.sum(ReplayChunk.raw_bytes), 0)).where(
            ReplayChunk.site == site, ReplayChunk.session_id == chunk.session
        )
    )
    try:
        blob, raw_bytes, first, last = pack(chunk, now)
    except RecursionError:
        return _refuse(422, "too_deep", "the page's snapshot is nested too deeply")
    if int(used or 0) + raw_bytes > settings.replay_session_bytes:
        return _refuse(413, "session_full", "this session's replay is over its size limit")
    db.add(ReplayChunk(site=site, session_id=chunk.session, visitor_id=chunk.visitor,
                       seq=chunk.seq, first_ts=first, last_ts=last, events=len(chunk.events),
                       raw_bytes=raw_bytes, blob=blob))  # fmt: skip
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return _refuse(409, "replayed", "this chunk was sent before")
    return ReplayOutcome(202, stored_bytes=len(blob))


async def events_of(db: AsyncSession, site: str, session_id: str) -> list[dict[str, Any]]:
    """The session's rrweb events in order (chunks by number; events by time within)."""
    blobs = (
        await db.scalars(
            select(ReplayChunk.blob)
            .where(ReplayChunk.site == site, ReplayChunk.session_id == session_id)
            .order_by(ReplayChunk.seq)
        )
    ).all()
    out: list[dict[str, Any]] = []
    for blob in blobs:
        out.extend(json.loads(gzip.decompress(blob)))
    out.sort(key=lambda e: e["timestamp"])  # stable: a page's own order is kept
    return out


@dataclass
class ReplaySession:
    site: str
    session_id: str
    visitor_id: str
    started: datetime
    ended: datetime
    events: int
    raw_bytes: int
    stored_bytes: int

    @property
    def seconds(self) -> int:
        return max(0, int((self.ended - self.started).total_seconds()))


async def sessions(
    db: AsyncSession, site: str, only: Iterable[str] | None = None, limit: int = 100
) -> list[ReplaySession]:
    """Recorded sessions, newest first; ``only``: these session ids (from an analysis)."""
    q = (
        select(
            ReplayChunk.session_id,
            func.min(ReplayChunk.visitor_id),
            func.min(ReplayChunk.first_ts),
            func.max(ReplayChunk.last_ts),
            func.sum(ReplayChunk.events),
            func.sum(ReplayChunk.raw_bytes),
            func.sum(func.length(ReplayChunk.blob)),
        )
        .where(ReplayChunk.site == site)
        .group_by(ReplayChunk.session_id)
        .order_by(func.max(ReplayChunk.last_ts).desc())
        .limit(limit)
    )
    if only is not None:
        ids = list(only)[:5000]
        if not ids:
            return []
        q = q.where(ReplayChunk.session_id.in_(ids))
    rows = (await db.execute(q)).all()
    return [ReplaySession(site, r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]))
            for r in rows]  # fmt: skip


async def drop_before(db: AsyncSession, when: datetime) -> int:
    """Retention: chunks received before ``when``."""
    result = await db.execute(delete(ReplayChunk).where(ReplayChunk.received_at < when))
    await db.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def retention_cutoff(
    settings: AnalyticsSettings, now: datetime, days: int | None = None
) -> datetime:
    return now - timedelta(days=days or settings.replay_retention_days)
