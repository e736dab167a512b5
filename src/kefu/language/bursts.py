"""Hot spots and crises: bursts of a term in a stream of posts, weighted by reach.

Each post counts ``1 + log1p(followers) + log1p(reposts)`` (a post seen by many matters more,
but a celebrity must not drown everything: hence logarithms). Per time window we take a
term's weight ``r_t`` and run Kleinberg's two-state burst automaton (Kleinberg 2002, "Bursty
and hierarchical structure in streams") with Poisson emissions: state 0 emits at the base rate
``λ0 = mean(r)``, state 1 at ``s · λ0``; entering the burst state costs ``γ · ln(n)``. The
cheapest state sequence (Viterbi) marks the bursts. (The batched binomial form, which divides
by all posts' weight, was tried first: a burst big enough to dominate the stream then raises
its own base rate and hides itself.) An alert is raised when a bursting term's posts are
mostly negative.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np


@dataclass(frozen=True)
class Post:
    time: datetime
    text: str
    followers: int = 0
    reposts: int = 0
    # Polarity in [-1, 1] if already known (e.g. from analyze); computed otherwise.
    sentiment: float | None = None
    terms: tuple[str, ...] = field(default=())  # keywords if already known

    @property
    def reach(self) -> float:
        return 1.0 + math.log1p(max(self.followers, 0)) + math.log1p(max(self.reposts, 0))


@dataclass(frozen=True)
class Burst:
    term: str
    start: datetime  # first window in the burst state
    end: datetime  # end of the last window in the burst state
    weight: float  # reach-weighted mentions during the burst
    score: float  # cost saved by explaining the burst windows with the burst state


@dataclass(frozen=True)
class Alert:
    term: str
    start: datetime
    end: datetime
    negative_share: float  # reach-weighted share of negative posts during the burst
    posts: int
    message: str


def kleinberg_states(
    r: Sequence[float], s: float = 2.0, gamma: float = 1.0
) -> tuple[list[int], list[float]]:
    """Two-state Kleinberg automaton over per-window weights ``r``.

    Returns the state per window (1 = burst) and per-window burst evidence (cost of state 0
    minus cost of state 1, positive where the burst state explains the window better).
    """
    r_arr = np.asarray(r, dtype=float)
    n = len(r_arr)
    if n == 0 or r_arr.sum() <= 0:
        return [0] * n, [0.0] * n
    lam0 = float(r_arr.mean())
    lam1 = s * lam0

    def cost(lam: float) -> np.ndarray:
        # Poisson negative log-likelihood without log(r!) (the same for both states).
        return lam - r_arr * math.log(lam)

    c0, c1 = cost(lam0), cost(lam1)
    up = gamma * math.log(max(n, 2))
    best = np.array([c0[0], c1[0] + up])
    back: list[tuple[int, int]] = []
    for t in range(1, n):
        from0 = (best[0], best[1])  # to state 0: leaving a burst is free
        from1 = (best[0] + up, best[1])
        arg0, arg1 = int(np.argmin(from0)), int(np.argmin(from1))
        best = np.array([from0[arg0] + c0[t], from1[arg1] + c1[t]])
        back.append((arg0, arg1))
    state = int(np.argmin(best))
    states = [state]
    for arg0, arg1 in reversed(back):
        state = arg0 if state == 0 else arg1
        states.append(state)
    states.reverse()
    return states, [float(x) for x in (c0 - c1)]


def _windows(posts: Sequence[Post], window: timedelta) -> tuple[datetime, list[int]]:
    start = min(p.time for p in posts)
    return start, [int((p.time - start) / window) for p in posts]


def _default_terms(post: Post) -> tuple[str, ...]:
    from kefu.language.keywords import keywords
    from kefu.language.normalize import normalize, strip_markup
    from kefu.language.tokenize import cut

    markup = strip_markup(normalize(post.text))
    return tuple(keywords(cut(markup.text), hashtags=markup.hashtags))


def detect_bursts(
    posts: Sequence[Post],
    window: timedelta = timedelta(hours=1),
    *,
    s: float = 2.0,
    gamma: float = 1.0,
    min_weight: float = 5.0,
    terms_of: Callable[[Post], tuple[str, ...]] | None = None,
) -> list[Burst]:
    """Bursts of every term in ``posts``, strongest first. Terms whose total weight is below
    ``min_weight`` are ignored: three posts are not a trend."""
    if not posts:
        return []
    terms_of = terms_of or (lambda p: p.terms or _default_terms(p))
    start, index = _windows(posts, window)
    n = max(index) + 1
    per_term: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(n))
    for post, w in zip(posts, index, strict=True):
        for term in set(terms_of(post)):
            per_term[term][w] += post.reach
    bursts: list[Burst] = []
    for term, r in per_term.items():
        if r.sum() < min_weight:
            continue
        states, evidence = kleinberg_states(r, s=s, gamma=gamma)
        t = 0
        while t < n:
            if states[t] != 1:
                t += 1
                continue
            u = t
            while u + 1 < n and states[u + 1] == 1:
                u += 1
            bursts.append(
                Burst(
                    term=term,
                    start=start + t * window,
                    end=start + (u + 1) * window,
                    weight=round(float(r[t : u + 1].sum()), 3),
                    score=round(float(sum(evidence[t : u + 1])), 3),
                )
            )
            t = u + 1
    bursts.sort(key=lambda b: (-b.score, b.term, b.start))
    return bursts


def negative_alerts(
    posts: Sequence[Post],
    window: timedelta = timedelta(hours=1),
    *,
    negative_share: float = 0.5,
    **burst_options: float,
) -> list[Alert]:
    """Alerts for bursts whose posts are mostly (reach-weighted) negative: a crisis forming."""
    terms_cache: dict[int, tuple[str, ...]] = {}

    def terms_of(p: Post) -> tuple[str, ...]:
        key = id(p)
        if key not in terms_cache:
            terms_cache[key] = p.terms or _default_terms(p)
        return terms_cache[key]

    alerts: list[Alert] = []
    for burst in detect_bursts(posts, window, terms_of=terms_of, **burst_options):  # type: ignore[arg-type]
        inside = [
            p for p in posts if burst.start <= p.time < burst.end and burst.term in terms_of(p)
        ]
        weight = sum(p.reach for p in inside)
        negative = sum(p.reach for p in inside if _polarity(p) <= -0.3)
        share = negative / weight if weight else 0.0
        if share >= negative_share:
            alerts.append(
                Alert(
                    term=burst.term,
                    start=burst.start,
                    end=burst.end,
                    negative_share=round(share, 3),
                    posts=len(inside),
                    message=f"负面话题「{burst.term}」突发: {len(inside)} 条, 负面占比 {share:.0%}",
                )
            )
    return alerts


def _polarity(post: Post) -> float:
    if post.sentiment is not None:
        return post.sentiment
    from kefu.language.analyze import analyze

    return analyze(post.text).sentiment.score
