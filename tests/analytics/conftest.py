"""Fixtures of the behaviour analytics tests: an in-memory event store, a collector on it with
a fixed clock, and one small generated month shared by the analyses' tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from kefu.analytics.collector import Collector
from kefu.analytics.generate import generate
from kefu.analytics.settings import AnalyticsSettings, Site
from kefu.analytics.store import DuckDBStore

NOW = 1_790_000_000.0  # seconds; the collector's clock in these tests
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
TODAY = date(2026, 12, 6)


@pytest.fixture
def store() -> Iterator[DuckDBStore]:
    s = DuckDBStore(":memory:", threads=1)
    yield s
    s.close()


@pytest.fixture
def collector(store: DuckDBStore) -> Collector:
    settings = AnalyticsSettings(
        sites=[Site(key="demo-bank")], queue_events=100, max_events_per_request=20
    )
    return Collector(store, settings, b"test-key", clock=lambda: NOW)


def batch(*events: dict[str, Any], **envelope: Any) -> bytes:
    body = {"v": 1, "sent_at": int(NOW * 1000), "visitor": "visitor-0001",
            "session": "session-0001", "events": list(events), **envelope}  # fmt: skip
    return json.dumps(body).encode()


def event(n: int = 1, **fields: Any) -> dict[str, Any]:
    return {"id": f"event-{n:06d}", "t": int(NOW * 1000) - 1000, "type": "pageview",
            "url": "https://bank.example/demo/bank/", **fields}  # fmt: skip


@pytest.fixture(scope="package")
def month() -> Iterator[DuckDBStore]:
    """A generated month (1,500 visitors, ~24,000 events), shared by the analyses' tests."""
    s = DuckDBStore(":memory:", threads=1)
    generate(s, 30, 1500, today=TODAY, seed=3)
    yield s
    s.close()
