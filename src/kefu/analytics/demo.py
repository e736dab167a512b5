"""``kefu demo``'s behaviour analytics: a month of the demo bank site's traffic, loaded once."""

from __future__ import annotations

from typing import Any

from kefu.analytics.generate import generate
from kefu.analytics.service import hash_key, store_path
from kefu.analytics.store import DuckDBStore

DEMO_DAYS = 30
DEMO_VISITORS = 2000  # ~30,000 events: a few seconds at start-up


def ensure_analytics_demo(settings: Any) -> str:
    """Loads the month unless the store already holds events; returns a line for the banner."""
    store = DuckDBStore(store_path(settings))
    try:
        if not store.count():
            generate(store, DEMO_DAYS, DEMO_VISITORS, hash_key=hash_key(settings), regions=True)
        count = store.count()
    finally:
        store.close()
    return (
        f"behaviour analytics: {count} events in {store.path}; pages /analytics, site /demo/bank/"
    )
