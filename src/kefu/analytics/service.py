"""The analytics part of a running app: its event store and collector, opened on first use.

Opened lazily, not at start-up: DuckDB lets one process hold a file, and most of what starts
an app (tests, commands) never touches behaviour analytics.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kefu.analytics.collector import Collector
from kefu.analytics.regions import Regions
from kefu.analytics.store import DuckDBStore, EventStore


def store_path(settings: Any) -> str:
    """The configured file, else one beside the SQLite database, else one per PostgreSQL
    database under var/ (so two instances never share a file)."""
    configured = settings.analytics.store_path
    if configured:
        return str(configured)
    if settings.is_sqlite:
        db = settings.sqlite_path()
        return ":memory:" if db is None else str(db.with_name(db.name + ".analytics.duckdb"))
    name = settings.database_url.rsplit("/", 1)[-1].split("?", 1)[0] or "kefu"
    return str(Path("var") / f"analytics-{name}.duckdb")


def hash_key(settings: Any) -> bytes:
    """The key of customer-number hashes: its own setting, else derived from the secret key
    (without one, from the process's secret: hashes then change on restart)."""
    own = settings.analytics.customer_hash_key
    if own:
        return own.encode()
    return hmac.new(settings.session_secret.encode(), b"kefu.analytics.customer",
                    hashlib.sha256).digest()  # fmt: skip


def open_store(settings: Any) -> EventStore:
    """ClickHouse when ``clickhouse_url`` is set (scale-out), else the DuckDB file."""
    url = settings.analytics.clickhouse_url
    if url:
        from kefu.analytics.store.clickhouse import ClickHouseStore

        return ClickHouseStore.connect(url)
    return DuckDBStore(store_path(settings))


@dataclass
class Analytics:
    store: EventStore
    collector: Collector

    def close(self) -> None:
        self.collector.stop()
        self.store.close()


_lock = threading.Lock()


def analytics_of(app: Any) -> Analytics:
    """The app's analytics, opened (and its writer started) on first use."""
    found = getattr(app.state, "analytics", None)
    if found is not None:
        return found
    with _lock:
        found = getattr(app.state, "analytics", None)
        if found is None:
            settings = app.state.settings
            store = open_store(settings)
            regions = Regions.open(settings.analytics.region_file)
            collector = Collector(store, settings.analytics, hash_key(settings), regions=regions)
            collector.start()
            found = app.state.analytics = Analytics(store, collector)
    return found


def close_analytics(app: Any) -> None:
    found = getattr(app.state, "analytics", None)
    if found is not None:
        found.close()
        app.state.analytics = None
