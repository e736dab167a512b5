"""Broken links and pages that fail on particular browser or OS versions.

A page's failure rate on one browser version (or OS version) is the share of its sessions
there that met a JS error or a failed request (4xx/5xx) on that page. Each is compared with the
same page's rate on every other version — the page's own baseline, so a page that is always a
little flaky does not drown the one version where it breaks. Flagged: at least ``min_sessions``
sessions, a rate of at least ``min_rate`` and ``factor`` times the baseline (plus a margin).
The first day the version's rate crossed the line dates the alert.
"""

from __future__ import annotations

from typing import Any, Literal

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore


def _rates_sql(period: Period, by: str) -> str:
    return f"""
WITH pages AS (
  SELECT session_id, path, day, {by} AS who, {by}_version AS version,
         bool_or(type IN ('error', 'http_error')) AS failed
  FROM events WHERE {period.where()} AND type IN ('pageview', 'error', 'http_error')
  GROUP BY session_id, path, day, {by}, {by}_version)"""


def failing_versions(
    store: EventStore,
    period: Period,
    by: Literal["browser", "os"] = "browser",
    min_sessions: int = 20,
    min_rate: float = 0.2,
    factor: float = 3.0,
) -> list[dict[str, Any]]:
    if by not in ("browser", "os"):
        raise ValueError("by browser or os")
    rows = store.query(
        _rates_sql(period, by)
        + """,
combos AS (SELECT path, who, version, count(*) AS n, count(*) FILTER (WHERE failed) AS bad
           FROM pages GROUP BY ALL),
totals AS (SELECT path, sum(n) AS n, sum(bad) AS bad FROM combos GROUP BY path),
flagged AS (
  SELECT c.path, c.who, c.version, c.n, c.bad, c.bad / c.n AS rate,
         (t.bad - c.bad) / greatest(t.n - c.n, 1) AS baseline
  FROM combos c JOIN totals t USING (path)
  WHERE c.n >= ? AND c.bad / c.n >= ?
    AND c.bad / c.n >= ? * ((t.bad - c.bad) / greatest(t.n - c.n, 1)) + 0.05),
daily AS (SELECT path, who, version, day, count(*) FILTER (WHERE failed) / count(*) AS rate
          FROM pages GROUP BY ALL)
SELECT f.path, f.who, f.version, f.n, f.bad, f.rate, f.baseline,
       (SELECT min(d.day) FROM daily d WHERE d.path = f.path AND d.who = f.who
          AND d.version = f.version AND d.rate >= ?) AS since
FROM flagged f ORDER BY f.rate - f.baseline DESC, f.path, f.who, f.version""",
        [*period.params(), min_sessions, min_rate, factor, min_rate],
    )
    return [
        {"page": p, by: w, "version": v, "sessions": n, "failed": b, "rate": r,
         "baseline": base, "since": since.isoformat() if since else None}
        for p, w, v, n, b, r, base, since in rows
    ]  # fmt: skip


def broken_links(store: EventStore, period: Period, limit: int = 30) -> list[dict[str, Any]]:
    """Failed requests (navigation, resources, fetch/XHR) by URL and status, with the page
    they failed on."""
    rows = store.query(
        f"""SELECT target, status, path, count(*), count(DISTINCT session_id) FROM events
            WHERE {period.where()} AND type = 'http_error' GROUP BY ALL ORDER BY 4 DESC, 1, 2, 3
            LIMIT {int(limit)}""",
        period.params(),
    )
    return [
        {"url": u, "status": s, "page": p, "count": n, "sessions": ss} for u, s, p, n, ss in rows
    ]


def error_rate_by_browser_os(
    store: EventStore, period: Period
) -> list[tuple[str, str, float, int]]:
    rows = store.query(
        f"""SELECT browser, os,
                   count(DISTINCT session_id) FILTER (WHERE type IN ('error', 'http_error'))
                   / count(DISTINCT session_id) AS rate, count(DISTINCT session_id) AS n
            FROM events WHERE {period.where()} GROUP BY ALL ORDER BY rate DESC, 1, 2""",
        period.params(),
    )
    return [(b, o, r, n) for b, o, r, n in rows]
