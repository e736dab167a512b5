"""Routing decisions, pure: no database, no clock, no I/O.

The service layer (``service.py``) loads workers and tasks from the database and applies what
this module decides under row locks; the discrete-event simulation in ``benchmarks/`` drives
the very same functions with simulated time. Times are plain seconds (floats) so both can use
it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kefu.routing.expressions import ALWAYS
from kefu.routing.rules import Queue, Rule, Target, Workflow


@dataclass
class Worker:
    """An agent as routing sees them (TaskRouter's worker)."""

    id: int
    attributes: Mapping[str, Any]  # skills {name: 0-5}, team, region, role, username, channels
    capacity: Mapping[str, int]  # per channel
    load: dict[str, int] = field(default_factory=dict)  # reserved + assigned, per channel
    available: bool = True  # presence online
    last_assigned_at: float = 0.0  # for "longest idle"

    def spare(self, channel: str) -> int:
        return self.capacity.get(channel, 0) - self.load.get(channel, 0)


@dataclass
class Task:
    """A conversation waiting for, or offered to, an agent."""

    id: int
    channel: str
    rule: str
    priority: int  # rule priority plus boosts, without aging
    enqueued_at: float
    last_worker_id: int | None = None  # the customer's last agent, for stickiness
    rejected: frozenset[int] = frozenset()  # workers who declined or let the offer expire


@dataclass(frozen=True)
class Classification:
    rule: str
    priority: int
    queue: str


class Router:
    """Decisions over one workflow. Eligibility of a worker for a target is cached because
    worker attributes do not change within a router's lifetime (the service builds a router
    per transaction; the simulation's agents keep their skills)."""

    def __init__(self, workflow: Workflow, *, tiebreak: int = 0) -> None:
        self.workflow = workflow
        # Among equally good agents the order is by id XOR tiebreak: the service gives each
        # assigner a random one so that concurrent assigners do not all reach for the same
        # agent first (they would only skip each other's locked rows).
        self.tiebreak = tiebreak
        self._rules = {rule.name: rule for rule in workflow.rules}
        self._rules["default"] = workflow.default
        # A transfer to a queue routes by a one-target rule of its own ("queue:<name>").
        for i, queue in enumerate(workflow.queues.values()):
            target = Target(-(i + 1), queue.name, ALWAYS, None, "true")
            self._rules[f"queue:{queue.name}"] = Rule(
                f"queue:{queue.name}", ALWAYS, 0, (target,), (0.0,)
            )
        self._eligible: dict[tuple[int, int], bool] = {}

    # -- classification --------------------------------------------------------------------
    def classify(self, attributes: Mapping[str, Any]) -> Classification:
        """The first rule whose condition holds, else the default; priority with boosts."""
        rule = next((r for r in self.workflow.rules if r.when(attributes)), self.workflow.default)
        priority = rule.priority + sum(
            add for when, add in self.workflow.boosts if when(attributes)
        )
        return Classification(rule.name, max(0, priority), rule.targets[0].queue)

    # -- time-dependent state of a task ----------------------------------------------------
    def target(self, task: Task, now: float) -> Target:
        rule = self._rules.get(task.rule, self.workflow.default)
        index = bisect.bisect_right(rule.starts, now - task.enqueued_at) - 1
        return rule.targets[max(0, index)]

    def target_index(self, task: Task, now: float) -> int:
        rule = self._rules.get(task.rule, self.workflow.default)
        return max(0, bisect.bisect_right(rule.starts, now - task.enqueued_at) - 1)

    def queue(self, task: Task, now: float) -> Queue:
        return self.workflow.queues[self.target(task, now).queue]

    def effective_priority(self, task: Task, now: float) -> int:
        aging = self.workflow.aging
        steps = int((now - task.enqueued_at) // aging.every) * aging.step
        return task.priority + min(aging.max, steps)

    def rule(self, name: str) -> Rule:
        return self._rules.get(name, self.workflow.default)

    # -- eligibility -------------------------------------------------------------------------
    def matches(self, worker: Worker, target: Target) -> bool:
        key = (target.key, worker.id)
        cached = self._eligible.get(key)
        if cached is None:
            queue = self.workflow.queues[target.queue]
            cached = queue.expression(worker.attributes) and target.expression(worker.attributes)
            self._eligible[key] = cached
        return cached

    def eligible(self, worker: Worker, task: Task, now: float) -> bool:
        return (
            worker.available
            and worker.spare(task.channel) > 0
            and worker.id not in task.rejected
            and self.matches(worker, self.target(task, now))
        )

    # -- choices -----------------------------------------------------------------------------
    def rank_workers(
        self, task: Task, workers: Iterable[Worker], now: float, limit: int | None = None
    ) -> list[Worker]:
        """Eligible workers, best first: the customer's last agent (handling history), then
        most spare capacity on the task's channel, then longest idle."""
        target = self.target(task, now)
        channel = task.channel
        candidates = [
            w
            for w in workers
            if w.available
            and w.spare(channel) > 0
            and w.id not in task.rejected
            and self.matches(w, target)
        ]

        tiebreak = self.tiebreak

        def key(w: Worker) -> tuple[bool, int, float, int]:
            return (
                w.id != task.last_worker_id,
                -w.spare(channel),
                w.last_assigned_at,
                w.id ^ tiebreak,
            )

        if limit is not None:  # the service tries only a few; no need to sort them all
            return heapq.nsmallest(limit, candidates, key=key)
        return sorted(candidates, key=key)

    def choose_worker(self, task: Task, workers: Iterable[Worker], now: float) -> Worker | None:
        ranked = self.rank_workers(task, workers, now)
        return ranked[0] if ranked else None

    def order(self, tasks: Iterable[Task], now: float) -> list[Task]:
        """The waiting queue: highest effective priority (with aging) first, then oldest."""
        return sorted(tasks, key=lambda t: (-self.effective_priority(t, now), t.enqueued_at, t.id))

    def choose_task(self, worker: Worker, tasks: Sequence[Task], now: float) -> Task | None:
        """What a worker who just became free should take next, or None."""
        if not worker.available:
            return None
        aging = self.workflow.aging
        best: Task | None = None
        best_key: tuple[int, float, int] | None = None
        rules = self._rules
        for task in tasks:
            if worker.spare(task.channel) <= 0 or worker.id in task.rejected:
                continue
            age = now - task.enqueued_at
            rule = rules.get(task.rule, self.workflow.default)
            index = bisect.bisect_right(rule.starts, age) - 1
            if not self.matches(worker, rule.targets[max(0, index)]):
                continue
            priority = task.priority + min(aging.max, int(age // aging.every) * aging.step)
            key = (-priority, task.enqueued_at, task.id)
            if best_key is None or key < best_key:
                best, best_key = task, key
        return best

    def plan(
        self, tasks: Iterable[Task], workers: Sequence[Worker], now: float
    ) -> list[tuple[Task, Worker]]:
        """Greedy matching of waiting tasks (queue order) to workers; updates worker loads in
        place so that capacity holds within the plan."""
        pairs: list[tuple[Task, Worker]] = []
        for task in self.order(tasks, now):
            worker = self.choose_worker(task, workers, now)
            if worker is None:
                continue
            worker.load[task.channel] = worker.load.get(task.channel, 0) + 1
            worker.last_assigned_at = now
            pairs.append((task, worker))
        return pairs

    def admits(self, queue: str, waiting: int) -> bool:
        """Queue limit: False means answer politely (overflow reply) instead of queueing."""
        limit = self.workflow.queues[queue].max_waiting
        return limit is None or waiting < limit


class WaitingQueue:
    """Waiting tasks indexed for "which task should this free agent take?".

    ``Router.choose_task`` scans every waiting task, which is fine for the service's batches
    but too slow with 10,000 waiting. Here tasks are grouped by (rule, channel, priority) and
    kept sorted by age. Within a group the oldest eligible task is the best one (same base
    priority, so aging and age both favour it), and the tasks that sit on one target of the
    rule form a contiguous age range — found by bisection. Same answer as ``choose_task``.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, int], list[tuple[float, int]]] = {}
        self._tasks: dict[int, Task] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def add(self, task: Task) -> None:
        self._tasks[task.id] = task
        bisect.insort(self._groups.setdefault((task.rule, task.channel, task.priority), []),
                      (task.enqueued_at, task.id))  # fmt: skip

    def remove(self, task: Task) -> None:
        del self._tasks[task.id]
        group = self._groups[(task.rule, task.channel, task.priority)]
        group.pop(bisect.bisect_left(group, (task.enqueued_at, task.id)))

    def best_for(self, router: Router, worker: Worker, now: float) -> Task | None:
        if not worker.available:
            return None
        aging = router.workflow.aging
        best: Task | None = None
        best_key: tuple[int, float, int] | None = None
        for (rule_name, channel, priority), entries in self._groups.items():
            if not entries or worker.spare(channel) <= 0:
                continue
            rule = router.rule(rule_name)
            bounds = (*rule.starts[1:], float("inf"))
            for target, start, end in zip(rule.targets, rule.starts, bounds, strict=True):
                if not router.matches(worker, target):
                    continue
                # age in [start, end)  <=>  enqueued_at in (now - end, now - start]
                j = bisect.bisect_right(entries, (now - end, float("inf")))
                newest = now - start
                while j < len(entries) and entries[j][0] <= newest:
                    task = self._tasks[entries[j][1]]
                    if worker.id not in task.rejected:
                        age = now - task.enqueued_at
                        effective = priority + min(aging.max, int(age // aging.every) * aging.step)
                        key = (-effective, task.enqueued_at, task.id)
                        if best_key is None or key < best_key:
                            best, best_key = task, key
                        break
                    j += 1
        return best
