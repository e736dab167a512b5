"""In-page behaviour: forms (started, submitted, abandoned; the field where each abandoned
session stopped) and clicks per element. Field names only: the tracker never sends values."""

from __future__ import annotations

from typing import Any

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore


def forms(store: EventStore, period: Period) -> list[dict[str, Any]]:
    rows = store.query(
        f"""SELECT target, count(DISTINCT session_id) FILTER (WHERE type = 'form_start'),
                   count(DISTINCT session_id) FILTER (WHERE type = 'form_submit'),
                   count(DISTINCT session_id) FILTER (WHERE type = 'form_abandon')
            FROM events WHERE {period.where()}
             AND type IN ('form_start', 'form_submit', 'form_abandon')
            GROUP BY target ORDER BY 2 DESC, 1""",
        period.params(),
    )
    return [
        {"form": f, "started": s, "submitted": d, "abandoned": a,
         "abandon_rate": a / s if s else 0.0}
        for f, s, d, a in rows
    ]  # fmt: skip


def field_dropoff(store: EventStore, period: Period, form: str) -> list[dict[str, Any]]:
    """Per field, in the order visitors reach them: sessions that reached it, and sessions
    that abandoned the form there (their last field)."""
    rows = store.query(
        f"""WITH reached AS (
              SELECT field, count(DISTINCT session_id) AS n, median(date_diff('millisecond', started, ts))
                     AS after_start
              FROM events e JOIN (SELECT session_id, min(ts) AS started FROM events
                                  WHERE {period.where()} AND type = 'form_start' AND target = ?
                                  GROUP BY session_id) s USING (session_id)
              WHERE {period.where("e")} AND type = 'form_field' AND target = ? GROUP BY field),
            left_at AS (
              SELECT field, count(DISTINCT session_id) AS n FROM events
              WHERE {period.where()} AND type = 'form_abandon' AND target = ? GROUP BY field)
            SELECT r.field, r.n, coalesce(l.n, 0) FROM reached r LEFT JOIN left_at l USING (field)
            ORDER BY r.after_start, r.field""",
        [*period.params(), form, *period.params(), form, *period.params(), form],
    )
    return [
        {"field": f, "reached": n, "abandoned_here": a, "dropoff": a / n if n else 0.0}
        for f, n, a in rows
    ]


def clicks(store: EventStore, period: Period, page: str, limit: int = 20) -> list[tuple[str, int]]:
    rows = store.query(
        f"""SELECT target, count(*) FROM events WHERE {period.where()} AND type = 'click'
             AND path = ? GROUP BY target ORDER BY 2 DESC, 1 LIMIT {int(limit)}""",
        [*period.params(), page],
    )
    return [(t, n) for t, n in rows]
