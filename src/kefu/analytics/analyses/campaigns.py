"""Marketing effectiveness per campaign: sessions it brought, conversions (those sessions
reaching the goal page), and with the cost the analyst entered: cost per acquisition and ROI
(value of the conversions less the cost, over the cost)."""

from __future__ import annotations

from typing import Any

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore


def campaigns(store: EventStore, period: Period, goal: str) -> list[dict[str, Any]]:
    rows = store.query(
        f"""WITH s AS (
              SELECT session_id, arg_min(utm_campaign, ts) AS campaign,
                     arg_min(utm_source, ts) AS source, arg_min(utm_medium, ts) AS medium,
                     bool_or(path = ?) AS converted
              FROM events WHERE {period.where()} AND type = 'pageview' GROUP BY session_id)
            SELECT campaign, any_value(source), any_value(medium), count(*),
                   count(*) FILTER (WHERE converted)
            FROM s WHERE campaign <> '' GROUP BY campaign ORDER BY 4 DESC, 1""",
        [goal, *period.params()],
    )
    costs = store.campaign_costs()
    out = []
    for name, source, medium, sessions, conversions in rows:
        cost, value = costs.get(name, (None, None))
        out.append(
            {
                "campaign": name,
                "source": source,
                "medium": medium,
                "sessions": sessions,
                "conversions": conversions,
                "conversion_rate": conversions / sessions if sessions else 0.0,
                "cost": cost,
                "value_per_conversion": value,
                "cpa": cost / conversions if cost is not None and conversions else None,
                "roi": (conversions * value - cost) / cost if cost else None,
            }
        )
    return out
