"""A branch day, simulated: Poisson arrivals whose rate rises at lunch (11:30-13:30), a mix
of services with exponential-ish (gamma) service times, counters with work profiles. It is
our own data — the shipped wait model is trained on it (the call-centre log is research-only)
— and it drives the demo and the guidance benchmark.

The simulation is a pure function of its seed: it records, for every customer, the queue
state at arrival (``QueueState``) and the wait that followed."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field

from kefu.branch.prediction.features import PACE_WINDOW, QueueState, ahead_with_priority
from kefu.branch.services import SERVICES, kind

OPEN_HOUR, CLOSE_HOUR = 9.0, 17.0
MIX = {"cash": 0.4, "card": 0.25, "account": 0.15, "wealth": 0.12, "business": 0.08}


@dataclass(frozen=True)
class BranchPlan:
    code: str
    counters: list[list[str]]  # each counter's work profile, in priority order
    base_per_hour: float  # arrivals per hour outside lunch
    lunch_factor: float = 1.8


def default_profiles(n: int) -> list[list[str]]:
    cycle = [["cash", "card"], ["card", "cash"], ["account", "wealth", "cash"],
             ["wealth", "account", "business"], ["business", "cash"], ["cash"]]  # fmt: skip
    return [cycle[i % len(cycle)] for i in range(n)]


def arrival_rate(plan: BranchPlan, hour: float) -> float:
    lunch = 11.5 <= hour < 13.5
    return plan.base_per_hour * (plan.lunch_factor if lunch else 1.0) / 3600


@dataclass
class Customer:
    service: str
    arrival: float  # seconds since midnight
    priority: int
    duration: float
    state: QueueState | None = None
    start: float | None = None
    branch: str = ""


@dataclass
class _Branch:
    plan: BranchPlan
    waiting: list[Customer] = field(default_factory=list)
    free_at: list[float] = field(default_factory=list)
    busy: list[Customer | None] = field(default_factory=list)
    done: dict[str, list[float]] = field(default_factory=dict)
    started: dict[str, list[float]] = field(default_factory=dict)
    arrivals: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # when each service ended


def _state(branch: _Branch, c: Customer, weekday: int) -> QueueState:
    same = Counter(w.priority for w in branch.waiting if w.service == c.service)
    servers = sum(1 for p in branch.plan.counters if c.service in p)
    recent = branch.done.get(c.service, [])[-20:]
    waits = branch.started.get(c.service, [])[-5:]
    return QueueState(
        ahead=ahead_with_priority(same, c.priority), waiting=len(branch.waiting), servers=servers,
        mean_service=sum(recent) / len(recent) if recent else SERVICES[c.service].mean_seconds,
        last_wait=waits[-1] if waits else -1.0, recent_wait=sum(waits) / len(waits) if waits else -1.0,
        arrivals_30min=sum(1 for a in branch.arrivals if a >= c.arrival - 1800),
        served_10min=sum(1 for t in branch.finished if c.arrival - PACE_WINDOW <= t < c.arrival),
        priority=c.priority, kind=kind(c.service), hour=c.arrival / 3600, weekday=weekday,
    )  # fmt: skip


def simulate_day(
    plans: list[BranchPlan],
    *,
    seed: int,
    weekday: int = 0,
    chooser=None,  # type: ignore[no-untyped-def]
) -> list[Customer]:
    """Every customer of the day with their state at arrival and their wait. ``chooser``
    (customer, {code: predicted wait}) → code lets a share of customers pick a branch."""
    rng = random.Random(seed)
    choice_rng = random.Random(seed + 1_000_003)
    branches = {p.code: _Branch(p, free_at=[0.0] * len(p.counters), busy=[None] * len(p.counters))
                for p in plans}  # fmt: skip
    events: list[tuple[float, int, str, str]] = []  # (time, seq, kind, branch)
    seq = 0
    for plan in plans:
        t = OPEN_HOUR * 3600
        while True:
            rate = max(arrival_rate(plan, h) for h in (11.5, 9.0))
            t += rng.expovariate(rate)
            if t >= CLOSE_HOUR * 3600:
                break
            if rng.random() <= arrival_rate(plan, t / 3600) / rate:  # thinning
                heapq.heappush(events, (t, seq, "arrive", plan.code))
                seq += 1
    customers: list[Customer] = []
    codes = list(MIX)
    while events:
        t, _, kind, code = heapq.heappop(events)
        if kind == "arrive":
            svc = rng.choices(codes, weights=[MIX[c] for c in codes])[0]
            mean = SERVICES[svc].mean_seconds
            c = Customer(svc, t, 3 if rng.random() < 0.08 else (1 if rng.random() < 0.1 else 0),
                         rng.gammavariate(2.0, mean / 2.0))  # fmt: skip
            if chooser is not None:
                # Its own random stream: guided and unguided days draw the same arrivals.
                c.branch = code
                guesses = {b: _state(branches[b], c, weekday).rule for b in branches}
                code = chooser(c, guesses, choice_rng) or code
            branch = branches[code]
            c.branch = code
            c.state = _state(branch, c, weekday)
            branch.arrivals.append(t)
            branch.waiting.append(c)
            customers.append(c)
        _dispatch(branches[code], t, events, seq)
        seq += 1
    return customers


def _dispatch(branch: _Branch, now: float, events: list, seq: int) -> None:  # type: ignore[type-arg]
    for i, profile in enumerate(branch.plan.counters):
        if branch.free_at[i] > now:
            continue
        if branch.busy[i] is not None:
            done = branch.busy[i]
            branch.done.setdefault(done.service, []).append(done.duration)
            branch.finished.append(branch.free_at[i])
            branch.busy[i] = None
        pick = None
        for svc in profile:
            same = [w for w in branch.waiting if w.service == svc]
            if same:
                pick = min(same, key=lambda w: (-w.priority, w.arrival))
                break
        if pick is None:
            continue
        branch.waiting.remove(pick)
        pick.start = now
        branch.started.setdefault(pick.service, []).append(now - pick.arrival)
        branch.busy[i] = pick
        branch.free_at[i] = now + pick.duration
        heapq.heappush(events, (branch.free_at[i], seq * 100 + i, "free", branch.plan.code))
