"""Metric anomalies and their root causes (issue #16).

Metrics per site (or topic, through :class:`Period`) and per day: traffic (sessions),
conversion (sessions reaching the goal / sessions), error rate (sessions meeting a JS or HTTP
error / sessions) and task completion (sessions submitting a form / sessions starting one).

Forecast: a *seasonal median* — the median of the same weekday over the previous four weeks
when at least three are known, else the median of the previous seven days. Why this model: an
analytics store holds weeks, not years, so a fitted seasonal model (Holt-Winters, SARIMA) has
too little to learn from and needs refitting per metric and site; the median ignores a past
incident instead of learning it, needs no training and explains itself ("usually 4.1 % on a
Tuesday"). The band is the forecast +/- 3 sigmas: the sampling noise of the day's value
(binomial at the day's denominator for a rate, Poisson for a count) plus whatever the past four
weeks varied beyond their own sampling noise (1.4826 x the median absolute deviation). A day
outside the band is an anomaly.

Causes: the day's sessions are split into leaves by source x campaign x device x OS x browser
(with major version) x region x landing page; each leaf's forecast is its own history scaled to
the day (rates: its own past rate, shrunk toward the site's rate when it has few sessions) and
:func:`kefu.analytics.rca.localise` finds the elements that explain the change.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from kefu.analytics.analyses.period import Period
from kefu.analytics.rca import Cause, Instance, localise
from kefu.analytics.store.base import EventStore

# Order matters only for ties: when two descriptions select the same sessions (a campaign and
# its source; a browser version and its OS), the one named first is shown.
DIMENSIONS = ("campaign", "browser", "landing", "source", "device", "os", "region")
# metric → (numerator, denominator or None for a count)
METRICS: dict[str, tuple[str, str | None]] = {
    "traffic": ("sessions", None),
    "conversion": ("converted", "sessions"),
    "error_rate": ("errored", "sessions"),
    "task_completion": ("submitted", "started"),
}
Z = 3.0
SHRINK = 5.0  # pseudo-sessions at the site's rate added to a leaf's own past rate
HISTORY_DAYS = 28


def _sessions_sql(period: Period) -> str:
    return f"""
        SELECT session_id, min(day) AS day,
          coalesce(arg_min(utm_source, ts), '') AS source,
          coalesce(arg_min(utm_campaign, ts), '') AS campaign,
          coalesce(any_value(device), '') AS device, coalesce(any_value(os), '') AS os,
          coalesce(any_value(browser || ' ' || browser_version), '') AS browser,
          coalesce(any_value(region), '') AS region,
          coalesce(arg_min(path, ts) FILTER (WHERE type = 'pageview'), '') AS landing,
          bool_or(type = 'pageview' AND path = ?) AS converted,
          bool_or(type IN ('error', 'http_error')) AS errored,
          bool_or(type = 'form_start') AS started,
          bool_or(type = 'form_submit') AS submitted
        FROM events WHERE {period.where()} GROUP BY session_id"""


_SUMS = (
    "count(*), count(*) FILTER (WHERE converted), count(*) FILTER (WHERE errored), "
    "count(*) FILTER (WHERE started), count(*) FILTER (WHERE submitted)"
)
_COLS = ("sessions", "converted", "errored", "started", "submitted")


@dataclass
class Point:
    day: date
    actual: float
    forecast: float | None
    low: float | None
    high: float | None
    numerator: float = 0.0
    denominator: float = 0.0

    @property
    def anomalous(self) -> bool:
        return self.low is not None and not (self.low <= self.actual <= (self.high or 0.0))


@dataclass
class Anomaly:
    metric: str
    day: date
    actual: float
    forecast: float
    low: float
    high: float
    causes: list[Cause] = field(default_factory=list)

    @property
    def change(self) -> float:
        return self.actual - self.forecast


def daily(store: EventStore, period: Period, goal: str) -> dict[date, dict[str, float]]:
    rows = store.query(
        f"WITH s AS ({_sessions_sql(period)}) SELECT day, {_SUMS} FROM s GROUP BY day",
        [goal, *period.params()],
    )
    return {r[0]: dict(zip(_COLS, map(float, r[1:]), strict=True)) for r in rows}


def _value(sums: dict[str, float], metric: str) -> tuple[float, float, float]:
    num, den = METRICS[metric]
    n = sums.get(num, 0.0)
    d = sums.get(den, 0.0) if den else 1.0
    return (n / d if d else 0.0), n, d


def _history(day: date, known: dict[date, Any]) -> list[date]:
    weekly = [day - timedelta(days=7 * k) for k in range(1, 5)]
    weekly = [d for d in weekly if d in known]
    if len(weekly) >= 3:
        return weekly
    return [d for d in (day - timedelta(days=k) for k in range(1, 8)) if d in known]


def series(store: EventStore, period: Period, metric: str, goal: str) -> list[Point]:
    """One point per day of the period, with forecast and band where history allows."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    wide = Period(period.site, period.since - timedelta(days=HISTORY_DAYS), period.until,
                  period.pages, period.events)  # fmt: skip
    sums = daily(store, wide, goal)
    rate = METRICS[metric][1] is not None
    out = []
    day = period.since
    while day <= period.until:
        value, n, d = _value(sums.get(day, {}), metric)
        hist = _history(day, sums)
        if len(hist) >= 2:
            past = [_value(sums[h], metric)[0] for h in hist]
            fc = statistics.median(past)
            # spread: sampling noise of today's value (binomial for a rate, Poisson for a
            # count) plus what the past month varied beyond its own sampling noise (robustly)
            month = [h for h in sums if day - timedelta(days=HISTORY_DAYS) <= h < day]
            vals = [_value(sums[h], metric) for h in month]
            mid = statistics.median(v[0] for v in vals)
            mad_var = (1.4826 * statistics.median(abs(v[0] - mid) for v in vals)) ** 2
            if rate:
                p_ = (sum(v[1] for v in vals) + 1) / (sum(v[2] for v in vals) + 2)
                sampling = statistics.mean(p_ * (1 - p_) / max(v[2], 1.0) for v in vals)
                today_noise = p_ * (1 - p_) / max(d, 1.0)
            else:
                sampling = max(mid, 1.0)
                today_noise = max(fc, 1.0)
            spread = (max(mad_var - sampling, 0.0) + today_noise) ** 0.5
            out.append(Point(day, value, fc, fc - Z * spread, fc + Z * spread, n, d))
        else:
            out.append(Point(day, value, None, None, None, n, d))
        day += timedelta(days=1)
    return out


def detect(store: EventStore, period: Period, goal: str) -> list[Anomaly]:
    """Every day of the period where a metric left its band, newest first (no causes yet)."""
    found = []
    for metric in METRICS:
        for p in series(store, period, metric, goal):
            if p.anomalous and p.forecast is not None and p.low is not None:
                assert p.high is not None
                found.append(Anomaly(metric, p.day, p.actual, p.forecast, p.low, p.high))
    return sorted(found, key=lambda a: (a.day, a.metric), reverse=True)


def leaves(store: EventStore, period: Period, metric: str, day: date, goal: str) -> Instance:
    """The day's leaves with actual and forecast values, ready for the root-cause search."""
    sums = daily(store, Period(period.site, day - timedelta(days=HISTORY_DAYS), day,
                               period.pages, period.events), goal)  # fmt: skip
    hist = _history(day, sums)
    if not hist:
        raise ValueError("no history before this day")
    days = [day, *hist]
    marks = ", ".join("?" for _ in days)
    wide = Period(period.site, min(days), day, period.pages, period.events)
    rows = store.query(
        f"WITH s AS ({_sessions_sql(wide)}) SELECT day, {', '.join(DIMENSIONS)}, {_SUMS} "
        f"FROM s WHERE day IN ({marks}) GROUP BY ALL",
        [goal, *wide.params(), *days],
    )
    now: dict[tuple[str, ...], np.ndarray] = {}
    past: dict[tuple[str, ...], np.ndarray] = defaultdict(lambda: np.zeros(len(_COLS)))
    for r in rows:
        key = tuple(str(v) for v in r[1 : 1 + len(DIMENSIONS)])
        vals = np.asarray(r[1 + len(DIMENSIONS) :], dtype=float)
        if r[0] == day:
            now[key] = vals
        else:
            past[key] += vals / len(hist)
    num, den = METRICS[metric]
    i_num, i_den = _COLS.index(num), (_COLS.index(den) if den else None)
    keys = sorted(set(now) | set(past))
    if not keys:
        raise ValueError("no sessions on this day")
    a = np.array([now.get(k, np.zeros(len(_COLS)))[i_num] for k in keys])
    if i_den is None:
        # counts: the leaf's own daily mean, scaled so the leaves add up to the day's forecast
        f = np.array([past[k][i_num] for k in keys])
        inst = Instance.from_rows(DIMENSIONS, keys, a, f)
        return replace(inst, volume=np.maximum(a, f))
    d_now = np.array([now.get(k, np.zeros(len(_COLS)))[i_den] for k in keys])
    n_past = np.array([past[k][i_num] for k in keys])
    d_past = np.array([past[k][i_den] for k in keys])
    site_rate = n_past.sum() / d_past.sum() if d_past.sum() else 0.0
    # a leaf's expected rate: its own past, shrunk toward its campaign and landing page's past
    # rate (which is shrunk toward the site's) when it had few sessions — the campaign and the
    # landing page set the funnel; browser, device, region usually only modulate it. The
    # actual is shrunk the same way, so a leaf of three sessions cannot look like a cause.
    group_of = [(k[0], k[2]) for k in keys]
    g_num: dict[tuple[str, str], float] = defaultdict(float)
    g_den: dict[tuple[str, str], float] = defaultdict(float)
    for g, n_, d_ in zip(group_of, n_past, d_past, strict=True):
        g_num[g] += n_
        g_den[g] += d_
    parent = np.array([(g_num[g] + SHRINK * site_rate) / (g_den[g] + SHRINK) for g in group_of])
    expected = (n_past + SHRINK * parent) / (d_past + SHRINK)
    observed = (a + SHRINK * expected) / (d_now + SHRINK)
    inst = Instance.from_rows(
        DIMENSIONS, keys, observed * d_now, expected * d_now, d_now.copy(), d_now.copy()
    )
    # a rate's noise shrinks with its denominator and is widest near one half
    var = np.maximum(expected * (1 - expected), 0.02) / np.maximum(expected, 0.02) ** 2
    return replace(inst, volume=(d_now + SHRINK) / var)


def explain(
    store: EventStore, period: Period, metric: str, day: date, goal: str, top: int = 5
) -> list[Cause]:
    """The ranked root causes of a metric's change on a day."""
    return localise(leaves(store, period, metric, day, goal))[:top]


def plant_conversion_drop(
    store: EventStore,
    day: date,
    *,
    campaign: str,
    browser: str,
    version: str,
    sessions: int,
    site: str = "demo-bank",
    seed: int = 16,
) -> int:
    """Add ``sessions`` sessions on ``day`` from ``campaign`` on ``browser version`` that land,
    start the form and give up — the demo's planted incident (``kefu analytics
    plant-incident``) for the root-cause search to find. Returns the events added."""
    import random
    from datetime import datetime

    from kefu.analytics.generate import AGENTS, CAMPAIGNS
    from kefu.analytics.store.base import COLUMNS

    if campaign not in CAMPAIGNS:
        raise ValueError(f"unknown campaign {campaign!r}")
    agent = next((a for a in AGENTS if a[0] == browser and a[1] == version), None)
    if agent is None:
        raise ValueError(f"no such browser in the demo traffic: {browser} {version}")
    source, medium, landing, ref = CAMPAIGNS[campaign]
    rnd = random.Random(seed)
    out: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    base = datetime.combine(day, datetime.min.time())
    for i in range(sessions):
        sid = f"incident{seed:02d}{i:06d}"
        t = base + timedelta(seconds=rnd.randrange(3600, 80_000))
        for n, (kind, extra) in enumerate(
            [
                ("pageview", {"referrer": ref, "channel": "paid" if medium == "cpc" else "campaign",
                              "utm_source": source, "utm_medium": medium,
                              "utm_campaign": campaign}),
                ("form_start", {"target": "card_apply"}),
                ("form_abandon", {"target": "card_apply", "field": "name"}),
            ]
        ):  # fmt: skip
            row = {c: "" for c in COLUMNS} | {"status": 0, "value": 0.0}
            row |= {"event_id": f"{sid}{n:03d}", "site": site, "ts": t + timedelta(seconds=n * 9),
                    "day": day, "type": kind, "session_id": sid, "visitor_id": f"vi{sid}",
                    "path": landing, "browser": agent[0], "browser_version": agent[1],
                    "os": agent[2], "os_version": agent[3], "device": agent[4], "app": "web"}  # fmt: skip
            row |= extra
            for c in COLUMNS:
                out[c].append(row[c])
    return store.insert(out)
