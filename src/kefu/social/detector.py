"""Is a negative topic bursting right now? Streaming burst detection over analysed posts.

Posts arrive in time order. Every term of a post (its keywords and its topic label) has a
stream of per-window weights: the reach of the term's *negative* posts in that window. A term
bursts when that weight rises well above the term's own baseline rate: 信用卡 is mentioned
negatively every minute and needs a real jump; 跑路 is almost never mentioned and a handful of
posts is news.

``BurstDetector`` runs Kleinberg's automaton (Kleinberg 2002, "Bursty and hierarchical
structure in streams", the same model as :mod:`kefu.language.bursts`, which works on a closed
batch) online: states 0..L-1 emit at rates λ0·sⁱ (Poisson), climbing a level costs γ, falling
is free. Per closed window we keep the cheapest cost of ending in each state (a forward Viterbi
step) and, for the cheapest path into each burst state, the window where it left state 0:
that is the burst's estimated start. The open window is judged as each post arrives with its
partial count (a partial count only under-states the window, so an alert is never premature),
which is what keeps the delay at minutes, not at window ends.

Weights: ``reach`` (≥ 1; :func:`reach_of` gives 1 + ln(1+followers) + ln(1+reposts)) is
divided by the stream's dispersion E[w²]/E[w]. A sum of weighted posts is a compound Poisson
variable whose variance is E[w²]/E[w] times its mean; dividing by that factor turns it back
into effective counts, for which the Poisson costs are honest. (Without it, a stream of
weighted posts looks far less noisy than it is and every wobble is a burst.) One big-V post
still counts far more than ten bots.

Baseline λ0: an exponentially weighted mean of the term's closed windows (half-life
``half_life``), floored at ``floor`` so a term never seen negative is not infinitely
surprising; windows in a burst move it four times slower, so a crisis does not hide itself
but a lasting new normal is absorbed and ends the burst. During the stream's ``warmup`` every
term is new and a plain mean learns its rate; nothing alerts then (to start warm, feed the
last hour of stored posts and drop what they raise). A term first seen after warm-up starts
from the floor: a new word is news.

Alerts: once per burst — a term alerts when it enters a burst state, at least ``min_posts``
posts carry it since the burst's start and at least ``negative_share`` of them are negative
(a neutral news surge has the usual few misread-as-negative posts, which are not a crisis).
The burst ends after ``cooldown`` windows back in state 0; only then may the term alert
again. One crisis makes all its words burst at once (盗刷, 信用卡, its hashtag, 退款 …), so a
term whose burst's negative posts mostly (``echo_share``) carry terms that already alerted is
folded into those alerts instead of raising its own; an alert lists as ``related`` the terms
in at least ``related_share`` of its negative posts.

The defaults (s = 4, γ = 8, three levels, one-minute windows; the z-score's threshold 5)
were chosen on benchmarks/social_bursts.py's tuning seeds 100 and 101; docs/
social-crisis-detection.md has the figures on other seeds.

Memory: terms idle for ``forget_after`` are forgotten, and at most ``max_terms`` are kept
(least recently seen go first); each term keeps ``memory`` windows of tallies.

``ZScoreDetector`` is the baseline the benchmark compares against: the same windows, weights,
gates and once-per-burst rule, but the test is z = (x − mean) / std over the term's trailing
``history`` windows.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["BurstAlert", "BurstDetector", "StreamPost", "ZScoreDetector", "reach_of"]


@dataclass(frozen=True)
class StreamPost:
    """What the detectors read of an analysed post."""

    at: datetime
    terms: tuple[str, ...]  # keywords + topic label
    negative: bool
    reach: float = 1.0  # influence-weighted reach, ≥ 1 (see reach_of)


@dataclass(frozen=True)
class BurstAlert:
    term: str  # the keyword or topic that burst
    started_at: datetime  # the burst's estimated start (start of its first window)
    raised_at: datetime  # stream time the alert was raised (the post that tipped it)
    volume: int  # posts carrying the term since started_at
    negativity: float  # share of those posts that are negative
    reach: float  # their summed reach
    level: int  # burst state reached (1 = s × the baseline rate, 2 = s², …)
    # Other terms in at least ``related_share`` of the burst's negative posts, most first:
    # what the crisis is about beside its name (their own bursts are folded into this alert).
    related: tuple[str, ...] = ()


def reach_of(followers: int, reposts: int = 0) -> float:
    """A post's reach weight: logarithms, so a celebrity counts for many people but does not
    drown everything (a bot 1, a typical user about 5, a 1M-follower account about 20)."""
    return 1.0 + math.log1p(max(followers, 0)) + math.log1p(max(reposts, 0))


class _Window:
    """Tallies of one term in one window."""

    __slots__ = ("index", "negative", "posts", "reach", "weight")

    def __init__(self, index: int) -> None:
        self.index = index
        self.posts = 0
        self.negative = 0
        self.reach = 0.0
        self.weight = 0.0  # effective count of negative posts (reach / dispersion)


class _Term:
    """One term's stream: its open window, recent closed windows, and the test's state."""

    __slots__ = ("alerted", "burst_start", "closed", "name", "open", "quiet", "stat")

    def __init__(self, name: str, index: int, memory: int, stat: object) -> None:
        self.name = name
        self.open = _Window(index)
        self.closed: deque[_Window] = deque(maxlen=memory)
        self.stat = stat  # the detector's per-term state (Kleinberg costs or z history)
        self.alerted = False  # the current burst raised an alert (or was folded into one)
        self.burst_start: int | None = None  # window the current burst started in
        self.quiet = 0  # closed windows in a row outside a burst


class _StreamDetector:
    """Windows, weights, gates, once-per-burst and memory bounds; subclasses judge a window."""

    def __init__(
        self,
        *,
        window: timedelta,
        min_posts: int,
        negative_share: float,
        cooldown: int,
        warmup: timedelta,
        forget_after: timedelta,
        max_terms: int,
        memory: int,
        echo_share: float,
        related_share: float,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        if not 0.0 <= negative_share <= 1.0:
            raise ValueError("negative_share must be between 0 and 1")
        if max_terms < 1 or memory < 1 or min_posts < 1 or cooldown < 1:
            raise ValueError("max_terms, memory, min_posts and cooldown must be at least 1")
        self.window = window
        self.min_posts = min_posts
        self.negative_share = negative_share
        self.cooldown = cooldown
        self.warmup = warmup
        self.forget_windows = max(1, math.ceil(forget_after / window))
        self.max_terms = max_terms
        self.memory = memory
        self.echo_share = echo_share
        self.related_share = related_share
        self._terms: OrderedDict[str, _Term] = OrderedDict()
        # Terms whose burst raised an alert and is still on (insertion-ordered: deterministic).
        self._leading: dict[str, None] = {}
        # (window, terms) of recent negative posts: which terms burst together.
        self._recent: deque[tuple[int, frozenset[str]]] = deque(maxlen=_RECENT_POSTS)
        self._clock: int | None = None  # the open window of the stream
        self._first: int | None = None
        # Dispersion E[w²]/E[w] of reach, as decayed sums (a prior of one post of reach 1).
        self._w1 = 1.0
        self._w2 = 1.0
        self._naive = False

    # -- public interface ---------------------------------------------------------------------

    def feed(self, post: StreamPost) -> list[BurstAlert]:
        """Count ``post`` and return the alerts it raised (usually none). A post older than
        the open window (a little out of order) is counted in the open window."""
        if post.reach < 0 or math.isnan(post.reach):
            raise ValueError(f"reach must be ≥ 0, got {post.reach!r}")
        index = max(self._index(post.at), self._clock if self._clock is not None else -(2**62))
        self._move_clock(index)
        reach = max(post.reach, 1.0)
        self._w1 = self._w1 * _POST_DECAY + reach
        self._w2 = self._w2 * _POST_DECAY + reach * reach
        weight = reach / (self._w2 / self._w1) if post.negative else 0.0
        terms = dict.fromkeys(t for t in post.terms if t)
        if post.negative:
            self._recent.append((index, frozenset(terms)))
        alerts: list[BurstAlert] = []
        for term in terms:
            state = self._term(term, index)
            w = state.open
            w.posts += 1
            w.negative += post.negative
            w.reach += reach
            w.weight += weight
            if post.negative and not state.alerted:
                alert = self._judge(term, state, post.at)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def advance(self, now: datetime) -> list[BurstAlert]:
        """Move stream time to ``now``: windows before it are closed (lazily, term by term)
        and idle terms are forgotten. Returns the alerts this raises, which for these
        detectors is always none (a window is judged as its posts arrive, and an empty
        window never starts a burst); it is there so callers treat every detector alike."""
        index = self._index(now)
        if self._clock is None or index > self._clock:
            self._move_clock(index)
        return []

    @property
    def terms_tracked(self) -> int:
        return len(self._terms)

    # -- windows and terms --------------------------------------------------------------------

    def _index(self, at: datetime) -> int:
        self._naive = at.tzinfo is None  # answer in the form we are given
        if self._naive:
            at = at.replace(tzinfo=UTC)
        return (at - _EPOCH) // self.window

    def _time(self, index: int) -> datetime:
        at = _EPOCH + index * self.window
        return at.replace(tzinfo=None) if self._naive else at

    def _move_clock(self, index: int) -> None:
        if self._first is None:
            self._first = index
        self._clock = index
        horizon = index - self.forget_windows
        terms = self._terms
        while terms:
            term, state = next(iter(terms.items()))
            if state.open.index >= horizon and len(terms) <= self.max_terms:
                break
            del terms[term]
            self._leading.pop(term, None)
        recent = self._recent
        while recent and recent[0][0] < index - self.memory:
            recent.popleft()

    def _term(self, term: str, index: int) -> _Term:
        state = self._terms.get(term)
        if state is None:
            state = _Term(term, index, self.memory, self._new_stat())
            self._terms[term] = state
            self._move_clock(index)  # may evict the oldest when over max_terms
            return state
        self._terms.move_to_end(term)
        if state.open.index < index:
            self._close(state, state.open)
            # Windows without posts of the term; a long gap needs only enough of them to
            # bring the test back to rest.
            gap = index - state.open.index - 1
            for empty in range(index - min(gap, self.memory), index):
                self._close(state, _Window(empty))
            state.open = _Window(index)
        return state

    def _close(self, state: _Term, window: _Window) -> None:
        level, _ = self._step(
            state.stat,
            window.index,
            window.weight,
            commit=True,
            warming=self._warming(window.index),
        )
        if window.posts:
            state.closed.append(window)
        if level == 0:
            state.quiet += 1
            if state.quiet >= self.cooldown:
                state.alerted = False
                state.burst_start = None
                self._leading.pop(state.name, None)
        else:
            state.quiet = 0

    def _warming(self, index: int) -> bool:
        return self._first is None or (index - self._first) * self.window < self.warmup

    def _judge(self, term: str, state: _Term, at: datetime) -> BurstAlert | None:
        level, start = self._step(state.stat, state.open.index, state.open.weight, commit=False)
        if level == 0 or start is None:
            return None
        if state.burst_start is None or start < state.burst_start:
            state.burst_start = start
        if self._clock is None or self._warming(self._clock):
            return None
        inside = [w for w in state.closed if w.index >= state.burst_start] + [state.open]
        posts = sum(w.posts for w in inside)
        negative = sum(w.negative for w in inside)
        if posts < self.min_posts or negative < self.negative_share * posts:
            return None
        state.alerted = True
        # One crisis makes all its words burst at once (盗刷, 信用卡, 退款, its hashtag …),
        # and two crises at once make the words of any complaint burst (投诉, 太坑): a term
        # whose negative posts mostly carry terms that already alerted is part of those
        # alerts, not a new one.
        self._prune_leading()
        mine = [t for i, t in self._recent if i >= state.burst_start and term in t]
        covered = sum(any(lead in terms for lead in self._leading) for terms in mine)
        if covered >= self.echo_share * len(mine):
            return None
        together = Counter(t for terms in mine for t in terms if t != term)
        self._leading[term] = None
        related = sorted(
            (t for t, n in together.items() if n >= self.related_share * len(mine)),
            key=lambda t: (-together[t], t),
        )
        return BurstAlert(
            term=term,
            started_at=self._time(state.burst_start),
            raised_at=at,
            volume=posts,
            negativity=round(negative / posts, 3),
            reach=round(sum(w.reach for w in inside), 3),
            level=level,
            related=tuple(related[:5]),
        )

    def _prune_leading(self) -> None:
        """Drop leads whose burst is over: a term without posts for ``cooldown`` windows is
        back in the normal state (an empty window is never a burst), even though its own
        state only learns so when its next post comes."""
        assert self._clock is not None
        for lead in list(self._leading):
            state = self._terms.get(lead)
            if state is None or state.open.index < self._clock - self.cooldown:
                del self._leading[lead]

    # -- the test, per subclass ---------------------------------------------------------------

    def _new_stat(self) -> object:
        raise NotImplementedError

    def _step(
        self, stat: object, index: int, weight: float, *, commit: bool, warming: bool = False
    ) -> tuple[int, int | None]:
        """Judge window ``index`` of ``weight``: (state, the burst's start window or None). With
        ``commit`` the window is closed and the state moves on; without, it is a look.
        ``warming``: the window is in the stream's warm-up (baselines still unknown)."""
        raise NotImplementedError


# Negative posts kept to tell which terms burst together (and at most ``memory`` windows).
_RECENT_POSTS = 50_000
# Windows are counted from a fixed epoch, so two detectors fed the same posts agree.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Dispersion is a property of the stream's audience, not of the last minute: ~10,000 posts.
_POST_DECAY = 1.0 - 1.0 / 10_000


class _Kleinberg:
    __slots__ = ("base", "closed", "cost", "start")

    def __init__(self, levels: int, floor: float) -> None:
        self.closed = 0  # windows closed so far
        self.base = floor
        self.cost = [0.0] + [math.inf] * (levels - 1)
        self.start: list[int | None] = [None] * levels


class BurstDetector(_StreamDetector):
    """Kleinberg's automaton over every term's negative, reach-weighted stream (see the
    module doc for the model and every parameter's role)."""

    def __init__(
        self,
        *,
        window: timedelta = timedelta(minutes=1),
        s: float = 4.0,
        gamma: float = 8.0,
        levels: int = 3,
        floor: float = 0.05,
        half_life: int = 60,
        min_posts: int = 5,
        negative_share: float = 0.5,
        cooldown: int = 15,
        warmup: timedelta = timedelta(minutes=15),
        forget_after: timedelta = timedelta(hours=6),
        max_terms: int = 20_000,
        memory: int = 120,
        echo_share: float = 0.5,
        related_share: float = 0.3,
    ) -> None:
        if s <= 1.0 or gamma <= 0.0 or levels < 2 or floor <= 0.0 or half_life < 1:
            raise ValueError("need s > 1, gamma > 0, levels ≥ 2, floor > 0, half_life ≥ 1")
        super().__init__(
            window=window,
            min_posts=min_posts,
            negative_share=negative_share,
            cooldown=cooldown,
            warmup=warmup,
            forget_after=forget_after,
            max_terms=max_terms,
            memory=memory,
            echo_share=echo_share,
            related_share=related_share,
        )
        self.s = s
        self.gamma = gamma
        self.levels = levels
        self.floor = floor
        self.half_life = half_life
        self.alpha = 1.0 - 0.5 ** (1.0 / half_life)

    def _new_stat(self) -> _Kleinberg:
        return _Kleinberg(self.levels, self.floor)

    def _step(
        self, stat: object, index: int, weight: float, *, commit: bool, warming: bool = False
    ) -> tuple[int, int | None]:
        assert isinstance(stat, _Kleinberg)
        cost: list[float] = []
        start: list[int | None] = []
        for j in range(self.levels):
            rate = stat.base * self.s**j
            # Cheapest way into state j: stay, fall (free) or climb (γ per level).
            best, came = math.inf, 0
            for i, c in enumerate(stat.cost):
                c += self.gamma * (j - i) if j > i else 0.0
                if c < best:
                    best, came = c, i
            cost.append(best + rate - weight * math.log(rate))
            start.append(None if j == 0 else (index if came == 0 else stat.start[came]))
        level = min(range(self.levels), key=cost.__getitem__)
        if commit:
            low = cost[level]
            stat.cost = [c - low for c in cost]  # keep numbers small; only differences matter
            stat.start = start
            # While the stream warms up every term is new and a plain mean of its windows
            # so far learns its rate fastest; afterwards a new term is news, and learns at
            # the ordinary pace from the floor. Inside a burst, four times slower.
            stat.closed += 1
            if warming:
                rate = max(self.alpha, 1.0 / stat.closed)
            else:
                rate = self.alpha / 4 if level else self.alpha
            stat.base = max(self.floor, stat.base + rate * (weight - stat.base))
        return level, start[level]


class _History:
    __slots__ = ("start", "values")

    def __init__(self, size: int) -> None:
        # A term we start tracking was silent before (the same as Kleinberg's floor).
        self.values: deque[float] = deque([0.0] * size, maxlen=size)
        self.start: int | None = None  # first window of the current run above the threshold


class ZScoreDetector(_StreamDetector):
    """The baseline: a term bursts when its window's weight is ``threshold`` standard
    deviations above the mean of its trailing ``history`` windows (empty ones included). The
    deviation is floored at ``min_std`` (a term that was always silent has none), and the
    level is how many thresholds the window clears."""

    def __init__(
        self,
        *,
        window: timedelta = timedelta(minutes=1),
        threshold: float = 5.0,
        history: int = 60,
        min_std: float = 0.5,
        min_posts: int = 5,
        negative_share: float = 0.5,
        cooldown: int = 15,
        warmup: timedelta = timedelta(minutes=15),
        forget_after: timedelta = timedelta(hours=6),
        max_terms: int = 20_000,
        memory: int = 120,
        echo_share: float = 0.5,
        related_share: float = 0.3,
    ) -> None:
        if threshold <= 0.0 or history < 2 or min_std <= 0.0:
            raise ValueError("need threshold > 0, history ≥ 2, min_std > 0")
        super().__init__(
            window=window,
            min_posts=min_posts,
            negative_share=negative_share,
            cooldown=cooldown,
            warmup=warmup,
            forget_after=forget_after,
            max_terms=max_terms,
            memory=memory,
            echo_share=echo_share,
            related_share=related_share,
        )
        self.threshold = threshold
        self.history = history
        self.min_std = min_std

    def _new_stat(self) -> _History:
        return _History(self.history)

    def _step(
        self, stat: object, index: int, weight: float, *, commit: bool, warming: bool = False
    ) -> tuple[int, int | None]:
        assert isinstance(stat, _History)
        values = stat.values
        n = len(values)
        mean = sum(values) / n if n else 0.0
        var = sum((v - mean) ** 2 for v in values) / n if n else 0.0
        z = (weight - mean) / max(math.sqrt(var), self.min_std)
        level = int(z // self.threshold) if z >= self.threshold else 0
        start = (stat.start if stat.start is not None else index) if level else None
        if commit:
            values.append(weight)
            stat.start = start
        return level, start
