"""Paths: where sessions go after a page, or came from before it, as Sankey links between
steps ("+1 /accounts" is the page viewed right after). The anchor is the session's first view
of the page; a session that ends is linked to "(离开)" / "(进入)"."""

from __future__ import annotations

from typing import Any, Literal

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore

END = {"after": "(离开)", "before": "(进入)"}


def paths_sql(period: Period, page: str, direction: str, depth: int) -> tuple[str, list[Any]]:
    sign = "" if direction == "after" else "-"
    sql = f"""
WITH pv AS (SELECT session_id, path,
                   row_number() OVER (PARTITION BY session_id ORDER BY ts) AS rn
            FROM events WHERE {period.where()} AND type = 'pageview'),
     anchor AS (SELECT session_id, min(rn) AS rn FROM pv WHERE path = ? GROUP BY session_id),
     steps AS (SELECT pv.session_id, {sign}(pv.rn - a.rn) AS k, pv.path
               FROM pv JOIN anchor a USING (session_id)
               WHERE {sign}(pv.rn - a.rn) BETWEEN 0 AND {int(depth)})
SELECT s1.k, s1.path, coalesce(s2.path, ?) AS next, count(*) AS n
FROM steps s1 LEFT JOIN steps s2 ON s2.session_id = s1.session_id AND s2.k = s1.k + 1
WHERE s1.k < {int(depth)} GROUP BY ALL ORDER BY s1.k, n DESC, s1.path, next"""
    return sql, [*period.params(), page, END[direction]]


def paths(
    store: EventStore,
    period: Period,
    page: str,
    direction: Literal["after", "before"] = "after",
    depth: int = 3,
    per_step: int = 8,
) -> dict[str, Any]:
    """Sankey nodes and links, the ``per_step`` largest links out of each step."""
    if direction not in END or not 1 <= depth <= 6:
        raise ValueError("direction is after or before; depth 1 to 6")
    sql, params = paths_sql(period, page, direction, depth)
    rows = store.query(sql, params)
    mark = "+" if direction == "after" else "-"
    links: list[dict[str, Any]] = []
    kept: dict[int, int] = {}
    for k, source, target, n in rows:
        if kept.get(k, 0) >= per_step:
            continue
        kept[k] = kept.get(k, 0) + 1
        src = page if k == 0 else f"{mark}{k} {source}"
        dst = f"{mark}{k + 1} {target}" if target != END[direction] else f"{target} {mark}{k + 1}"
        # a Sankey is drawn source → target: before a page, the earlier page is the source
        links.append(
            {"source": src, "target": dst, "value": n}
            if direction == "after"
            else {"source": dst, "target": src, "value": n}
        )
    names = sorted({link["source"] for link in links} | {link["target"] for link in links})
    return {"nodes": [{"name": name} for name in names], "links": links}
