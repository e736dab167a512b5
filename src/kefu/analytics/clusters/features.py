"""What each signed-in customer did in a period, as one row of numbers per customer: the
features behaviour clustering works on (issue #16, part 3).

Customers, not sessions: what marketing exports is customers, and one customer's sessions
(one to transfer, one to look at funds) make sense together. The feature names are the
words the clustering page shows (Chinese first; the English is the gettext catalogue's),
so a cluster's label reads "转账页浏览 ↑ · 表单放弃 ↑" without a lookup table.

Pages are grouped by what they are for, by a word in their path (``PAGE_KINDS``): the demo
bank's paths and most banks' (``/transfer``, ``/wealth``, ``/cards``, ``/help``) carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore

# feature → the path words of its pages
PAGE_KINDS = {
    "转账页浏览": ("transfer",),
    "理财页浏览": ("wealth", "fund", "invest"),
    "信用卡页浏览": ("card",),
    "帮助页浏览": ("help", "faq", "service"),
}
NAMES = [
    "访问次数", "活跃天数", "每次浏览页数", "每次停留秒数", "跳出占比", *PAGE_KINDS,
    "表单开始", "表单放弃", "表单提交", "遇到错误", "移动端占比", "晚间访问占比",
    "活动引流占比", "距上次访问天数",
]  # fmt: skip
MAX_CUSTOMERS = 50_000  # the most active customers of a period, at most


@dataclass(frozen=True)
class CustomerFeatures:
    hashes: list[str]  # customer hash per row
    x: np.ndarray  # rows × len(NAMES)


def _kind_sum(words: tuple[str, ...]) -> str:
    test = " OR ".join(f"path LIKE '%{w}%'" for w in words)  # constant words, no input
    return f"sum(CASE WHEN type = 'pageview' AND ({test}) THEN 1 ELSE 0 END)"


def customer_features(store: EventStore, period: Period) -> CustomerFeatures:
    """One row per signed-in customer who visited in ``period`` (the most active first)."""
    kinds = ",\n".join(f"{_kind_sum(w)} AS k{i}" for i, w in enumerate(PAGE_KINDS.values()))
    kind_cols = ", ".join(f"sum(k{i})" for i in range(len(PAGE_KINDS)))
    rows = store.query(
        f"""WITH s AS (
              SELECT session_id, any_value(customer_hash) AS customer_hash,
                     min(day) AS day, max(day) AS last_day,
                     sum(CASE WHEN type = 'pageview' THEN 1 ELSE 0 END) AS views,
                     date_diff('millisecond', min(ts), max(ts)) / 1000.0 AS seconds,
                     {kinds},
                     sum(CASE WHEN type = 'form_start' THEN 1 ELSE 0 END) AS starts,
                     sum(CASE WHEN type = 'form_abandon' THEN 1 ELSE 0 END) AS abandons,
                     sum(CASE WHEN type = 'form_submit' THEN 1 ELSE 0 END) AS submits,
                     sum(CASE WHEN type IN ('error', 'http_error') THEN 1 ELSE 0 END) AS errors,
                     max(CASE WHEN device IN ('mobile', 'tablet') THEN 1 ELSE 0 END) AS mobile,
                     CASE WHEN extract(hour FROM min(ts)) BETWEEN 11 AND 21
                          THEN 1 ELSE 0 END AS evening,  -- 19:00-06:00 Beijing time (UTC+8)
                     max(CASE WHEN utm_campaign <> '' THEN 1 ELSE 0 END) AS campaign
              FROM events WHERE {period.where()} AND customer_hash <> ''
              GROUP BY session_id)
            SELECT customer_hash, count(*), count(DISTINCT day), avg(views), avg(seconds),
                   avg(CASE WHEN views <= 1 THEN 1.0 ELSE 0.0 END), {kind_cols},
                   sum(starts), sum(abandons), sum(submits), sum(errors), avg(mobile),
                   avg(evening), avg(campaign), max(last_day)
            FROM s GROUP BY customer_hash ORDER BY count(*) DESC, customer_hash
            LIMIT {MAX_CUSTOMERS}""",
        period.params(),
    )
    hashes = [r[0] for r in rows]
    x = np.array(
        [[float(v or 0) for v in r[1:-1]] + [float((period.until - _day(r[-1])).days)]
         for r in rows],
        dtype=float,
    ).reshape(len(rows), len(NAMES))  # fmt: skip
    return CustomerFeatures(hashes, x)


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
