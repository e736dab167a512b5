"""``kefu demo``'s behaviour analytics: a month of the demo bank site's traffic, loaded once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from kefu.analytics import demo_replays
from kefu.analytics.clusters.planted import plant_segments
from kefu.analytics.generate import generate
from kefu.analytics.service import hash_key, store_path
from kefu.analytics.store import DuckDBStore

DEMO_DAYS = 30
DEMO_VISITORS = 2000  # ~30,000 events: a few seconds at start-up


def ensure_analytics_demo(settings: Any) -> str:
    """Loads the month unless the store already holds events, and the recorded sessions with
    their replays unless they are there (kefu.analytics.demo_replays); returns a line for the
    banner. Called before the app's event loop starts."""
    now = datetime.now(UTC)
    recorded = demo_replays.load()
    store = DuckDBStore(store_path(settings))
    try:
        if not store.count():
            generate(store, DEMO_DAYS, DEMO_VISITORS, hash_key=hash_key(settings), regions=True)
            # Four planted behaviour groups of signed-in customers, so the clustering page and
            # the agent's behaviour panel have something to find (docs/analytics-insights.md).
            plant_segments(store, 150, DEMO_DAYS, hash_key=hash_key(settings))
        demo_replays.seed_events(store, recorded, hash_key(settings), now)
        count = store.count()
    finally:
        store.close()
    replays = asyncio.run(demo_replays.seed_replays(settings.database_url, recorded, now))
    seeded = f"; {replays} recorded replay chunks seeded" if replays else ""
    return (
        f"behaviour analytics: {count} events in {store.path}{seeded}; pages /analytics, "
        "clusters /analytics/clusters, replays /analytics/replays, site /demo/bank/"
    )
