"""The collector: ``POST /collect/{site}`` takes a batch of events from the tracker or a native
app, validates it, enriches and masks each event, and queues the rows for the store.

It never blocks the page: a request only parses, checks and appends to an in-memory buffer; a
writer thread moves the buffer to the store every ``flush_seconds`` or ``batch_events``. When
the buffer holds ``queue_events`` rows the collector answers 503 (the tracker keeps the batch
in its offline queue and tries later) rather than grow without bound.

Refusals (each counted in ``Collector.refused`` by reason, never an exception to the client):
unknown site 404; unreadable JSON 400; wrong shape or sizes 422; more events than
``max_events_per_request`` 413 (bodies over the app's byte limit are refused earlier, by
``kefu.web.middleware.BodySizeLimit``); per event: a time after the batch was sent (forged or
a broken clock beyond ``clock_skew_seconds``), older than ``max_age_hours``, or an event id seen
before (replayed). A batch whose every event is refused is 422 (409 when all were replays).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from kefu.analytics import enrich
from kefu.analytics.regions import Regions
from kefu.analytics.settings import AnalyticsSettings
from kefu.analytics.store.base import COLUMNS, EventStore
from kefu.logs import get_logger

log = get_logger(__name__)

EventType = Literal[
    "pageview", "click", "form_start", "form_field", "form_submit", "form_abandon", "error",
    "http_error", "vital", "scroll", "custom",
]  # fmt: skip
Short = Annotated[str, Field(max_length=200)]
Url = Annotated[str, Field(max_length=2000)]


class EventIn(BaseModel):
    """One event as the tracker or an app sends it. Form events name the form (``target``)
    and field, never what was typed: there is no field for a value."""

    model_config = {"extra": "forbid"}

    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    t: int = Field(ge=0, description="Milliseconds since the epoch, the sender's clock.")
    type: EventType
    url: Url = ""
    ref: Url = ""
    title: Short = ""
    target: Annotated[str, Field(max_length=500)] = ""
    field: Short = ""
    status: int = Field(default=0, ge=0, le=999)
    value: float = Field(default=0, ge=-1e9, le=1e9)
    props: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=20)


class BatchIn(BaseModel):
    model_config = {"extra": "forbid"}

    v: Literal[1] = 1
    sent_at: int = Field(ge=0, description="Milliseconds since the epoch when the batch left.")
    visitor: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    session: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    customer: str = Field(default="", max_length=32, pattern=r"^[A-Za-z0-9]*$")
    app: str = Field(default="web", max_length=40, pattern=r"^[a-z0-9_-]+$")
    ua: str = Field(default="", max_length=500, description="Native apps: their user agent.")
    events: list[EventIn] = Field(min_length=1, max_length=10_000)


@dataclass
class Outcome:
    status: int
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    detail: str = ""


class _Seen:
    """Event ids seen within ``max_age`` (older events are refused anyway, so a replay of one
    is caught by its age), at most ``cap`` of them."""

    def __init__(self, max_age: float, cap: int = 1_000_000) -> None:
        self.max_age, self.cap = max_age, cap
        self._ids: OrderedDict[str, float] = OrderedDict()

    def add(self, event_id: str, now: float) -> bool:
        """False when the id was seen before."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = now
        while len(self._ids) > self.cap or next(iter(self._ids.values())) < now - self.max_age:
            self._ids.popitem(last=False)
        return True


class Collector:
    def __init__(
        self,
        store: EventStore,
        settings: AnalyticsSettings,
        hash_key: bytes,
        *,
        clock: Callable[[], float] = time.time,
        regions: Regions | None = None,
    ) -> None:
        self.store, self.settings, self.hash_key, self.clock = store, settings, hash_key, clock
        self.regions = regions or Regions(None)
        self.sites = {site.key: site for site in settings.sites}
        self.refused: Counter[str] = Counter()
        self.accepted = 0
        self.written = 0
        self._lock = threading.Lock()
        self._buffer = _empty()
        self._pending = 0
        self._seen = _Seen(settings.max_age_hours * 3600)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    # -- intake -----------------------------------------------------------------------------
    def accept(self, site: str, body: bytes, user_agent: str = "", ip: str = "") -> Outcome:
        """Validate, enrich and queue one request's batch; the answer to send. ``ip`` (the
        sender's address) becomes a region here and goes no further."""
        if site not in self.sites:
            return self._refuse(404, "unknown_site", "no such site")
        try:  # parsed and checked in one pass by pydantic's Rust core
            batch = BatchIn.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid":
                return self._refuse(400, "malformed", "the body is not JSON")
            if tuple(first["loc"]) == ("events",) and first["type"] == "too_long":
                return self._too_many()
            where = ".".join(str(p) for p in first["loc"])
            return self._refuse(422, "invalid", f"{where}: {first['msg']}")
        if len(batch.events) > self.settings.max_events_per_request:
            return self._too_many()
        if self._pending + len(batch.events) > self.settings.queue_events:
            return self._refuse(503, "overload", "the collector is busy; send again later")
        agent = enrich.parse_agent(batch.ua or user_agent)
        if agent.bot:
            self.refused["bot"] += len(batch.events)
            return Outcome(202, 0, {"bot": len(batch.events)})  # bots learn nothing
        return self._queue(site, batch, agent, self.regions.lookup(ip) if ip else "")

    def _queue(self, site: str, batch: BatchIn, agent: enrich.Agent, region: str) -> Outcome:
        now = self.clock()
        offset = now - batch.sent_at / 1000  # the sender's clock error, corrected below
        skew = self.settings.clock_skew_seconds
        oldest = now - self.settings.max_age_hours * 3600
        customer = enrich.customer_hash(self.hash_key, batch.customer) if batch.customer else ""
        kept: list[tuple[EventIn, float]] = []
        refused: Counter[str] = Counter()
        for event in batch.events:
            if event.t > batch.sent_at + skew * 1000:
                refused["future"] += 1
                continue
            at = event.t / 1000 + offset
            if at < oldest:
                refused["stale"] += 1
                continue
            with self._lock:
                fresh = self._seen.add(event.id, now)
            if not fresh:
                refused["replayed"] += 1
                continue
            kept.append((event, at))
        rows = _rows(site, batch, kept, customer, agent, region)
        accepted = len(kept)
        self.refused.update(refused)
        if accepted:
            with self._lock:
                for name, values in rows.items():
                    self._buffer[name].extend(values)
                self._pending += accepted
                self.accepted += accepted
                full = self._pending >= self.settings.batch_events
            if full:
                self._wake.set()
            return Outcome(202, accepted, dict(refused))
        status = 409 if set(refused) == {"replayed"} else 422
        return Outcome(status, 0, dict(refused), "every event was refused")

    def _too_many(self) -> Outcome:
        limit = self.settings.max_events_per_request
        return self._refuse(413, "too_many", f"over {limit} events in a batch")

    def _refuse(self, status: int, reason: str, detail: str) -> Outcome:
        self.refused[reason] += 1
        return Outcome(status, 0, {reason: 1}, detail)

    # -- writing ----------------------------------------------------------------------------
    def flush(self) -> int:
        """Move the buffer to the store; returns the rows written."""
        with self._lock:
            rows, self._buffer = self._buffer, _empty()
        count = len(rows["event_id"])
        if count:
            try:
                self.store.insert(rows)
            except Exception:  # the store failed: keep the rows for the next round
                log.exception("analytics.store_insert_failed", rows=count)
                with self._lock:
                    for name, values in rows.items():
                        values.extend(self._buffer[name])
                    self._buffer = rows
                return 0
            self.written += count
        with self._lock:
            self._pending -= count
        return count

    def start(self) -> None:
        # ua-parser compiles its rules on first use (~1 s): not on a visitor's request
        threading.Thread(
            target=enrich.parse_agent, args=("Mozilla/5.0 warm-up",), daemon=True
        ).start()
        self._writer = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._writer.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.flush_seconds)
            self._wake.clear()
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout=10)
        self.flush()

    @property
    def pending(self) -> int:
        return self._pending


def _empty() -> dict[str, list[Any]]:
    return {name: [] for name in COLUMNS}


def _rows(
    site: str,
    batch: BatchIn,
    kept: list[tuple[EventIn, float]],
    customer: str,
    agent: enrich.Agent,
    region: str = "",
) -> dict[str, list[Any]]:
    """The accepted events as columns; what the batch shares is repeated, not recomputed."""
    n = len(kept)
    rows: dict[str, list[Any]] = {
        "site": [site] * n,
        "session_id": [batch.session] * n,
        "visitor_id": [batch.visitor] * n,
        "customer_hash": [customer] * n,
        "browser": [agent.browser] * n,
        "browser_version": [agent.browser_version] * n,
        "os": [agent.os] * n,
        "os_version": [agent.os_version] * n,
        "device": [agent.device] * n,
        "region": [region] * n,
        "app": [batch.app] * n,
    }
    own: dict[str, list[Any]] = {name: [] for name in COLUMNS if name not in rows}
    for event, at in kept:
        path, _, query = event.url.partition("?")
        host = ""
        if "://" in path:
            host, _, path = path.split("://", 1)[1].partition("/")
            host, path = host.lower(), "/" + path
        query, utm = enrich.split_query(query.partition("#")[0])
        referrer = enrich.referrer_host(event.ref) if event.ref else ""
        ts = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
        own["event_id"].append(event.id)
        own["ts"].append(ts)
        own["day"].append(ts.date())
        own["type"].append(event.type)
        own["path"].append(enrich.mask(path)[:500] or "/")
        own["query"].append(query)
        own["referrer"].append(referrer)
        own["channel"].append(
            enrich.channel_of(referrer, utm, host, batch.app) if event.type == "pageview" else ""
        )
        own["utm_source"].append(utm.get("utm_source", ""))
        own["utm_medium"].append(utm.get("utm_medium", ""))
        own["utm_campaign"].append(utm.get("utm_campaign", ""))
        own["target"].append(
            enrich.mask(event.target) if event.type in ("http_error", "error") else event.target
        )
        own["field"].append(event.field)
        own["status"].append(event.status)
        own["value"].append(event.value)
        own["props"].append(
            json.dumps(
                {k: enrich.mask(v) if isinstance(v, str) else v for k, v in event.props.items()}
            )  # fmt: skip
            if event.props
            else ""
        )
    rows.update(own)
    return rows
