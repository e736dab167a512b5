"""Routing decision latency in process, with 10,000 open conversations.

Run: .venv/bin/python benchmarks/routing_latency.py   (a few seconds)

Uses the shipped default workflow and kefu.routing.engine.Router (what the service calls):
- arrival: classify a new conversation and pick the best of 200 agents while 10,000
  conversations are open (assigned to agents, so capacity is what it would be);
- agent frees up: pick the next task from a waiting queue of 10,000 conversations (the worst
  case: everything open is waiting, with mixed rules, ages and rejected agents), with the
  indexed ``WaitingQueue`` and, for comparison, the plain scan ``Router.choose_task``.
Target: p99 < 20 ms.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from kefu.routing import rules
from kefu.routing.engine import Router, Task, WaitingQueue, Worker
from kefu.routing.rules import compile_workflow, load_text

OPEN = 10_000
AGENTS = 200
SAMPLES = 2_000
CHANNELS = ("sms", "wechat", "weibo", "webchat")
TEXTS = ["信用卡账单不对", "卡被盗刷了", "大额存单怎么买", "排队太久了", "你好", "english please"]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    rng = random.Random(7)
    router = Router(
        compile_workflow(
            load_text(Path(rules.__file__).with_name("default_workflow.yaml").read_text())
        )
    )
    skills = ("credit_card", "deposit", "wealth", "complaint", "english", "loan")
    workers = [
        Worker(i, {"skills": {s: rng.randint(1, 5) for s in rng.sample(skills, 3)}, "role": "agent", "region": "shenzhen"},
               {"sms": 60, "wechat": 60, "weibo": 200, "webchat": 60}, available=rng.random() < 0.9,
               last_assigned_at=rng.uniform(0, 1000))
        for i in range(AGENTS)
    ]  # fmt: skip
    now = 10_000.0
    tasks = []
    for i in range(OPEN):
        attrs = {"channel": rng.choice(CHANNELS), "text": rng.choice(TEXTS), "keywords": [],
                 "sentiment": rng.uniform(-1, 1), "tier": rng.choice(["standard", "gold", "private"]), "crisis": False}  # fmt: skip
        c = router.classify(attrs)
        task = Task(i, attrs["channel"], c.rule, c.priority, now - rng.uniform(0, 3600),
                    rejected=frozenset(rng.sample(range(AGENTS), 2)))  # fmt: skip
        tasks.append(task)
    # Open conversations held by agents: their load, as the service would load it.
    for task in tasks:
        w = workers[task.id % AGENTS]
        w.load[task.channel] = w.load.get(task.channel, 0) + 1

    arrival: list[float] = []
    for i in range(SAMPLES):
        attrs = {"channel": rng.choice(CHANNELS), "text": rng.choice(TEXTS), "keywords": [], "sentiment": rng.uniform(-1, 1),
                 "tier": "standard", "crisis": False}  # fmt: skip
        start = time.perf_counter()
        c = router.classify(attrs)
        router.choose_worker(
            Task(OPEN + i, attrs["channel"], c.rule, c.priority, now), workers, now
        )
        arrival.append((time.perf_counter() - start) * 1000)

    freed: list[float] = []
    for i in range(SAMPLES):
        worker = workers[i % AGENTS]
        start = time.perf_counter()
        router.choose_task(worker, tasks, now + i)
        freed.append((time.perf_counter() - start) * 1000)

    queue = WaitingQueue()
    for task in tasks:
        queue.add(task)
    indexed: list[float] = []
    for i in range(SAMPLES):
        worker = workers[i % AGENTS]
        start = time.perf_counter()
        queue.best_for(router, worker, now + i)
        indexed.append((time.perf_counter() - start) * 1000)

    for name, values in (("arrival → best agent (200 agents, 10,000 open)", arrival),
                         ("agent free → next task, indexed WaitingQueue", indexed),
                         ("agent free → next task, plain scan (choose_task)", freed)):  # fmt: skip
        print(f"{name:<50} p50 {percentile(values, 50):6.3f} ms   p99 {percentile(values, 99):6.3f} ms   "
              f"max {max(values):6.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
