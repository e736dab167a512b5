"""Traffic and sources (channel, referrer, campaign, UTM) and user characteristics (device,
OS, browser, region, new vs returning). A session's source is that of its first page view."""

from __future__ import annotations

from typing import Any

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore

_SESSIONS = """
WITH first_view AS (
  SELECT session_id, arg_min(channel, ts) AS channel, arg_min(referrer, ts) AS referrer,
         arg_min(utm_source, ts) AS utm_source, arg_min(utm_medium, ts) AS utm_medium,
         arg_min(utm_campaign, ts) AS utm_campaign, min(ts) AS started,
         any_value(visitor_id) AS visitor_id, any_value(device) AS device,
         any_value(os) AS os, any_value(browser) AS browser
  FROM events WHERE {where} AND type = 'pageview' GROUP BY session_id)
"""


def daily(store: EventStore, period: Period) -> list[dict[str, Any]]:
    rows = store.query(
        f"""SELECT day, count(*) FILTER (WHERE type = 'pageview'), count(DISTINCT session_id),
                   count(DISTINCT visitor_id)
            FROM events WHERE {period.where()} GROUP BY day ORDER BY day""",
        period.params(),
    )
    return [
        {"day": d.isoformat(), "pageviews": pv, "sessions": s, "visitors": v}
        for d, pv, s, v in rows
    ]


def breakdown(
    store: EventStore, period: Period, column: str, limit: int = 20
) -> list[tuple[str, int]]:
    """Sessions by one attribute of their first page view (channel, referrer, utm_*, device,
    os, browser)."""
    if column not in {"channel", "referrer", "utm_source", "utm_medium", "utm_campaign",
                      "device", "os", "browser"}:  # fmt: skip
        raise ValueError(f"no breakdown by {column!r}")
    rows = store.query(
        _SESSIONS.format(where=period.where())
        + f"""SELECT coalesce(nullif({column}, ''), '-') AS k, count(*) AS n FROM first_view
              GROUP BY k ORDER BY n DESC, k LIMIT {int(limit)}""",
        period.params(),
    )
    return [(k, n) for k, n in rows]


def regions(store: EventStore, period: Period, limit: int = 15) -> list[tuple[str, int]]:
    """Sessions by region: China by province (``CN/province``), elsewhere by country; the
    visitor's address was turned into the label at the collector (kefu.analytics.regions)."""
    rows = store.query(
        f"""WITH s AS (SELECT session_id, any_value(region) AS region FROM events
                       WHERE {period.where()} AND type = 'pageview' GROUP BY session_id)
            SELECT region, count(*) FROM s GROUP BY region""",
        period.params(),
    )
    counts: dict[str, int] = {}
    for region, n in rows:
        key = "/".join(str(region or "").split("/")[:2])  # CN/province/city → CN/province
        counts[key] = counts.get(key, 0) + int(n)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def sources_by_device(store: EventStore, period: Period) -> list[tuple[str, str, int]]:
    rows = store.query(
        _SESSIONS.format(where=period.where())
        + "SELECT channel, device, count(*) FROM first_view GROUP BY ALL ORDER BY 3 DESC, 1, 2",
        period.params(),
    )
    return [(c, d, n) for c, d, n in rows]


def new_vs_returning(store: EventStore, period: Period) -> dict[str, int]:
    """A session is a new visitor's when no earlier session of that visitor is stored (the
    whole history, not only the period)."""
    rows = store.query(
        f"""WITH s AS (SELECT session_id, any_value(visitor_id) AS visitor_id, min(ts) AS started
                      FROM events WHERE {period.where()} GROUP BY session_id),
                 firsts AS (SELECT visitor_id, min(ts) AS first_seen FROM events
                            WHERE site = ? AND visitor_id IN (SELECT visitor_id FROM s)
                            GROUP BY visitor_id)
            SELECT s.started <= f.first_seen AS is_new, count(*) FROM s JOIN firsts f USING (visitor_id)
            GROUP BY 1""",
        [*period.params(), period.site],
    )
    found = {bool(k): n for k, n in rows}
    return {"new": found.get(True, 0), "returning": found.get(False, 0)}


def top_pages(store: EventStore, period: Period, limit: int = 15) -> list[tuple[str, int, int]]:
    rows = store.query(
        f"""SELECT path, count(*), count(DISTINCT session_id) FROM events
            WHERE {period.where()} AND type = 'pageview' GROUP BY path ORDER BY 2 DESC, 1
            LIMIT {int(limit)}""",
        period.params(),
    )
    return [(p, n, s) for p, n, s in rows]
