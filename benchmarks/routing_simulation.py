"""A day at the service centre, simulated event by event, routed by the real kefu.routing engine.

Run: .venv/bin/python benchmarks/routing_simulation.py   (about a minute)

200 agents with mixed skills, 10,000 conversations between 08:00 and 22:00 with a lunch peak.
Each conversation needs one of four skill areas. The same arrivals and the same random work
content are replayed under three policies:

- kefu: the workflow below (skill queues, bullseye relaxation, priority, aging) through
  ``kefu.routing.engine.Router`` — the very code the service layer calls;
- round robin over all online agents with room, ignoring skills (what Chatwoot does);
- Erlang C: the textbook prediction for one pooled queue of 200 interchangeable agents with the
  same arrivals and the kefu run's mean handling time, hour by hour.

Model assumptions (stated, not measured): one conversation at a time per agent (capacity 1, so
Erlang C applies); handling time is exponential with a mean of 7 minutes times a factor of the
agent's proficiency in the needed skill: 0.8 at level 5 … 1.2 at level 1, and 1.5 without the
skill (looking things up, asking colleagues). Service level = answered within 60 s.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
import sys
from dataclasses import dataclass, field

from kefu.routing.engine import Router, Task, WaitingQueue, Worker
from kefu.routing.rules import compile_workflow

AGENTS = 200
CONVERSATIONS = 10_000
OPEN, CLOSE = 8 * 3600, 22 * 3600
MEAN_AHT = 420.0
TARGET = 60.0
AREAS = {"credit_card": 0.45, "deposit": 0.25, "complaint": 0.10, "general": 0.20}

WORKFLOW = {
    "queues": [
        {"name": "credit_card", "expression": "skills.credit_card >= 1"},
        {"name": "deposit", "expression": "skills.deposit >= 1"},
        {"name": "complaint", "expression": "skills.complaint >= 1"},
        {"name": "general", "expression": "true"},
    ],
    "rules": [
        {"name": area, "when": f'intent == "{area}"', "priority": prio,
         "targets": [{"queue": area, "skills": {area: 4}, "relax_every": 20, "timeout": 90}, {"queue": "general"}]}
        for area, prio in (("complaint", 5), ("credit_card", 2), ("deposit", 1))
    ],
    "default": {"targets": [{"queue": "general"}]},
    "boosts": [{"when": 'tier == "private"', "add": 3}],
    "aging": {"every": 30, "step": 1, "max": 10},
    "capacity": {"webchat": 1},
}  # fmt: skip


def arrival_times(rng: random.Random) -> list[float]:
    """Thinning of a rate with a morning ramp, a lunch peak at 12:30 and an evening bump."""

    def rate(t: float) -> float:
        h = t / 3600
        return (
            1.0
            + 2.6 * math.exp(-(((h - 12.5) / 0.9) ** 2))
            + 0.8 * math.exp(-(((h - 19.5) / 1.2) ** 2))
        )

    peak = 1.0 + 2.6 + 0.8
    times: list[float] = []
    while len(times) < CONVERSATIONS * 3:
        t = rng.uniform(OPEN, CLOSE)
        if rng.random() < rate(t) / peak:
            times.append(t)
    return sorted(rng.sample(times, CONVERSATIONS))


@dataclass
class Job:
    id: int
    at: float
    area: str
    tier: str
    work: float  # exponential(1) draw, scaled by the agent's factor and MEAN_AHT


@dataclass
class Outcome:
    waits: list[float] = field(default_factory=list)
    busy: float = 0.0
    handled: float = 0.0
    peak_busy: float = 0.0  # agent-seconds worked between 12:00 and 13:00


def make_jobs(seed: int) -> list[Job]:
    rng = random.Random(seed)
    areas, weights = zip(*AREAS.items(), strict=True)
    return [Job(i, t, rng.choices(areas, weights)[0], "private" if rng.random() < 0.05 else "standard", rng.expovariate(1.0))
            for i, t in enumerate(arrival_times(rng))]  # fmt: skip


def make_agents(seed: int) -> list[dict[str, int]]:
    rng = random.Random(seed + 1)
    skills = []
    for _ in range(AGENTS):
        mine = {"credit_card": 0, "deposit": 0, "complaint": 0}
        for area in rng.sample(list(mine), k=rng.choice((1, 2, 2, 3))):
            mine[area] = rng.randint(1, 5)
        skills.append({k: v for k, v in mine.items() if v})
    return skills


def factor(skills: dict[str, int], area: str) -> float:
    if area == "general":
        return 1.0
    level = skills.get(area, 0)
    return 1.5 if level == 0 else 1.3 - 0.1 * level


def simulate(jobs: list[Job], agent_skills: list[dict[str, int]], policy: str) -> Outcome:
    router = Router(compile_workflow(WORKFLOW))
    workers = [
        Worker(i, {"skills": s, "role": "agent"}, {"webchat": 1})
        for i, s in enumerate(agent_skills)
    ]
    out = Outcome()
    events: list[
        tuple[float, int, int, int]
    ] = []  # (time, kind 0=finish 1=arrival 2=tick, seq, ref)
    seq = 0
    for job in jobs:
        heapq.heappush(events, (job.at, 1, seq, job.id))
        seq += 1
    waiting = WaitingQueue()
    tasks: dict[int, Task] = {}
    rr = 0

    def start(task: Task, worker: Worker, now: float) -> None:
        nonlocal seq
        job = jobs[task.id]
        worker.load["webchat"] = 1
        worker.last_assigned_at = now
        duration = job.work * MEAN_AHT * factor(worker.attributes["skills"], job.area)
        out.waits.append(now - job.at)
        out.busy += duration
        out.peak_busy += max(0.0, min(now + duration, 13 * 3600) - max(now, 12 * 3600))
        out.handled += 1
        heapq.heappush(events, (now + duration, 0, seq, worker.id))
        seq += 1

    def pick_rr(task: Task) -> Worker | None:
        nonlocal rr
        for k in range(AGENTS):
            w = workers[(rr + k) % AGENTS]
            if w.spare("webchat") > 0:
                rr = (rr + k + 1) % AGENTS
                return w
        return None

    def drain(now: float) -> None:
        """Free agents take waiting work (kefu: each picks its best eligible task)."""
        if not waiting:
            return
        for w in workers:
            if w.spare("webchat") <= 0 or not waiting:
                continue
            if policy == "kefu":
                task = waiting.best_for(router, w, now)
            else:
                task = min(waiting, key=lambda t: (t.enqueued_at, t.id))
            if task is not None:
                waiting.remove(task)
                start(task, w, now)

    next_tick = OPEN
    while events:
        now, kind, _, ref = heapq.heappop(events)
        # Bullseye rings widen with time, not with events: re-offer the queue every 5 s.
        while next_tick <= now and waiting:
            drain(next_tick)
            next_tick += 5.0
        next_tick = max(next_tick, now - now % 5 + 5)
        if kind == 1:
            job = jobs[ref]
            decision = router.classify({"intent": job.area, "tier": job.tier, "channel": "webchat"})
            task = Task(job.id, "webchat", decision.rule, decision.priority, now)
            tasks[job.id] = task
            worker = router.choose_worker(task, workers, now) if policy == "kefu" else pick_rr(task)
            if worker is None:
                waiting.add(task)
            else:
                start(task, worker, now)
        else:
            workers[ref].load["webchat"] = 0
            drain(now)
    return out


def erlang_c(agents: int, load: float) -> float:
    """Probability of waiting (Erlang C) for offered load ``load`` Erlangs on ``agents``."""
    if load >= agents:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, agents):
        term *= load / k
        total += term
    term *= load / agents
    top = term * agents / (agents - load)
    return top / (total + top)


def erlang_prediction(jobs: list[Job], aht: float) -> tuple[float, float]:
    """Hour-by-hour Erlang C, weighted by arrivals: (service level, mean wait)."""
    by_hour: dict[int, int] = {}
    for job in jobs:
        by_hour[int(job.at // 3600)] = by_hour.get(int(job.at // 3600), 0) + 1
    served = waited = 0.0
    for count in by_hour.values():
        load = count * aht / 3600
        pw = erlang_c(AGENTS, load)
        if load >= AGENTS:
            sl, asa = 0.0, float("inf")
        else:
            sl = 1 - pw * math.exp(-(AGENTS - load) * TARGET / aht)
            asa = pw * aht / (AGENTS - load)
        served += sl * count
        waited += asa * count
    return served / len(jobs), waited / len(jobs)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main(seed: int = 2026) -> None:
    jobs = make_jobs(seed)
    skills = make_agents(seed)
    span = (CLOSE - OPEN) + 3600  # the day plus the tail after closing
    print(
        f"{AGENTS} agents, {len(jobs)} conversations 08:00–22:00, lunch peak; SL = answered within {TARGET:.0f} s"
    )
    print(
        f"{'policy':<14}{'SL':>8}{'mean wait':>12}{'p95 wait':>11}{'occupancy':>11}{'12–13h occ.':>12}{'mean AHT':>10}"
    )
    results = {}
    for policy in ("kefu", "round_robin"):
        out = simulate(jobs, skills, policy)
        sl = sum(w <= TARGET for w in out.waits) / len(out.waits)
        aht = out.busy / out.handled
        results[policy] = aht
        print(f"{policy:<14}{sl:>8.1%}{statistics.fmean(out.waits):>10.1f} s{p95(out.waits):>9.1f} s"
              f"{out.busy / (AGENTS * span):>11.1%}{out.peak_busy / (AGENTS * 3600):>12.1%}{aht:>8.0f} s")  # fmt: skip
    sl, asa = erlang_prediction(jobs, results["kefu"])
    print(
        f"{'Erlang C':<14}{sl:>8.1%}{asa:>10.1f} s{'—':>11}{'—':>11}{'—':>12}{results['kefu']:>8.0f} s  (pooled, kefu's AHT)"
    )
    sl_rr, asa_rr = erlang_prediction(jobs, results["round_robin"])
    print(
        f"{'Erlang C (RR)':<14}{sl_rr:>8.1%}{asa_rr:>10.1f} s{'—':>11}{'—':>11}{'—':>12}{results['round_robin']:>8.0f} s  (pooled, round robin's AHT)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2026)
