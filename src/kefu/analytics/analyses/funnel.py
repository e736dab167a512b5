"""Funnels: visitors who reached each step in order, within a conversion window counted from
the first step; optionally only visitors who came by one campaign."""

from __future__ import annotations

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore


def funnel_sql(
    period: Period, steps: list[str], window_minutes: int, campaign: str = ""
) -> tuple[str, list[object]]:
    """The statement and its parameters. Step k is the first view of its page after step
    k-1 and no later than the window after step 1."""
    if not 2 <= len(steps) <= 10:
        raise ValueError("a funnel has 2 to 10 steps")
    params: list[object] = []
    scope = period.where() + " AND type = 'pageview'"
    ctes = [
        f"""pv AS (SELECT visitor_id, ts, path FROM events WHERE {scope}
                   AND path IN ({", ".join("?" for _ in steps)}))"""
    ]
    params += [*period.params(), *steps]
    first = "SELECT visitor_id, min(ts) AS t0, min(ts) AS t FROM pv WHERE path = ?"
    params.append(steps[0])
    if campaign:
        first += f""" AND visitor_id IN (SELECT visitor_id FROM events WHERE {period.where()}
                      AND type = 'pageview' AND utm_campaign = ?)"""
        params += [*period.params(), campaign]
    ctes.append(f"s1 AS ({first} GROUP BY visitor_id)")
    for k, step in enumerate(steps[1:], start=2):
        ctes.append(
            f"""s{k} AS (SELECT p.visitor_id AS visitor_id, any_value(s.t0) AS t0, min(p.ts) AS t
                FROM s{k - 1} s JOIN pv p ON p.visitor_id = s.visitor_id AND p.path = ?
                 AND p.ts > s.t AND p.ts <= s.t0 + INTERVAL {int(window_minutes)} MINUTE
                GROUP BY p.visitor_id)"""
        )
        params.append(step)
    counts = " UNION ALL ".join(f"SELECT {k}, count(*) FROM s{k}" for k in range(1, len(steps) + 1))
    return "WITH " + ", ".join(ctes) + f" SELECT * FROM ({counts}) ORDER BY 1", params


def funnel(
    store: EventStore,
    period: Period,
    steps: list[str],
    window_minutes: int = 60,
    campaign: str = "",
) -> list[dict[str, object]]:
    sql, params = funnel_sql(period, steps, window_minutes, campaign)
    counts = dict(store.query(sql, params))
    out: list[dict[str, object]] = []
    top = counts.get(1, 0)
    for k, step in enumerate(steps, start=1):
        n = counts.get(k, 0)
        prev = counts.get(k - 1, top) if k > 1 else top
        out.append(
            {"step": step, "visitors": n, "of_first": n / top if top else 0.0,
             "of_previous": n / prev if prev else 0.0}
        )  # fmt: skip
    return out
