from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.routing import rules
from kefu.routing.engine import Router, Task, WaitingQueue, Worker
from kefu.routing.rules import compile_workflow, load_text

DEFAULT = Path(rules.__file__).with_name("default_workflow.yaml")


@pytest.fixture
def router() -> Router:
    return Router(compile_workflow(load_text(DEFAULT.read_text())))


def worker(wid: int, skills: dict[str, int], *, cap: int = 5, load: int = 0, idle: float = 0.0,
           available: bool = True) -> Worker:  # fmt: skip
    return Worker(wid, {"skills": skills, "role": "agent"}, {"wechat": cap, "weibo": cap},
                  {"wechat": load}, available, idle)  # fmt: skip


def task(tid: int, rule: str = "credit_card", priority: int = 2, at: float = 0.0, **kw) -> Task:  # type: ignore[no-untyped-def]
    return Task(tid, "wechat", rule, priority, at, **kw)


def test_classification_first_match_and_boosts(router: Router) -> None:
    crisis = router.classify({"channel": "weibo", "text": "卡被盗刷", "keywords": ["盗刷"],
                              "sentiment": -0.9, "tier": "private", "crisis": False})  # fmt: skip
    assert (crisis.rule, crisis.queue, crisis.priority) == ("crisis", "complaint", 8 + 2 + 2)
    bill = router.classify({"channel": "sms", "text": "我要查3月的账单", "keywords": []})
    assert (bill.rule, bill.queue, bill.priority) == ("credit_card", "credit_card", 2)
    other = router.classify({"channel": "sms", "text": "你好", "keywords": []})
    assert (other.rule, other.queue) == ("default", "general")


def test_best_worker_most_spare_then_longest_idle(router: Router) -> None:
    workers = [
        worker(1, {"credit_card": 5}, load=3),
        worker(2, {"credit_card": 4}, load=1, idle=50.0),
        worker(3, {"credit_card": 4}, load=1, idle=10.0),
        worker(4, {"credit_card": 2}, load=0),  # not skilled enough for ring 0
        worker(5, {"credit_card": 5}, load=0, available=False),
    ]
    assert [w.id for w in router.rank_workers(task(1), workers, now=0)] == [3, 2, 1]


def test_sticky_to_last_agent_when_available(router: Router) -> None:
    workers = [worker(1, {"credit_card": 5}, load=4), worker(2, {"credit_card": 5})]
    assert router.choose_worker(task(1, last_worker_id=1), workers, 0).id == 1
    workers[0].available = False
    assert router.choose_worker(task(1, last_worker_id=1), workers, 0).id == 2


def test_rejected_worker_is_skipped(router: Router) -> None:
    workers = [worker(1, {"credit_card": 5}), worker(2, {"credit_card": 4}, load=2)]
    assert router.choose_worker(task(1, rejected=frozenset({1})), workers, 0).id == 2


def test_full_worker_is_not_offered(router: Router) -> None:
    assert router.choose_worker(task(1), [worker(1, {"credit_card": 5}, load=5)], 0) is None


def test_bullseye_relaxes_over_time(router: Router) -> None:
    novice = worker(1, {"credit_card": 1})
    generalist = worker(2, {"deposit": 3})
    t = task(1, at=0.0)
    assert router.choose_worker(t, [novice, generalist], now=10) is None
    assert router.choose_worker(t, [novice, generalist], now=200).id == 1  # ring credit_card>=1
    # After the credit-card queue's timeout the task falls back to the general queue.
    assert router.target(t, now=10_000).queue == "general"
    assert router.choose_worker(t, [generalist], now=10_000).id == 2


def test_queue_order_priority_then_age_with_aging(router: Router) -> None:
    old_low = task(1, priority=0, at=0.0)
    new_high = task(2, priority=3, at=500.0)
    assert [t.id for t in router.order([old_low, new_high], now=500)] == [1, 2]  # aged 8 steps
    fresh_low = task(3, priority=0, at=490.0)
    assert [t.id for t in router.order([fresh_low, new_high], now=500)] == [2, 3]
    w = worker(9, {"credit_card": 5})
    assert router.choose_task(w, [fresh_low, new_high, old_low], now=500).id == 1


def test_plan_never_exceeds_capacity(router: Router) -> None:
    workers = [worker(i, {"credit_card": 5}, cap=2) for i in range(3)]
    tasks = [task(i, at=float(i)) for i in range(10)]
    plan = router.plan(tasks, workers, now=20)
    assert len(plan) == 6
    assert len({t.id for t, _ in plan}) == 6
    assert all(w.load["wechat"] == 2 for w in workers)


def test_queue_limit(router: Router) -> None:
    assert router.admits("credit_card", 499)
    assert not router.admits("credit_card", 500)
    assert router.admits("complaint", 10**6)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_waiting_queue_index_agrees_with_the_plain_scan(data) -> None:  # type: ignore[no-untyped-def]
    router = Router(compile_workflow(load_text(DEFAULT.read_text())))
    rng_rules = [
        "crisis",
        "negative_social",
        "credit_card",
        "english",
        "wealth",
        "default",
        "queue:general",
    ]
    tasks = [
        Task(i, data.draw(st.sampled_from(["wechat", "weibo"])), data.draw(st.sampled_from(rng_rules)),
             data.draw(st.integers(0, 4)), data.draw(st.floats(0, 2000)),
             rejected=frozenset(data.draw(st.sets(st.integers(0, 3), max_size=2))))
        for i in range(data.draw(st.integers(0, 40)))
    ]  # fmt: skip
    queue = WaitingQueue()
    for t in tasks:
        queue.add(t)
    if tasks and data.draw(st.booleans()):
        queue.remove(tasks[0])
        tasks = tasks[1:]
    skills = data.draw(
        st.dictionaries(
            st.sampled_from(["credit_card", "complaint", "english", "deposit"]), st.integers(0, 5)
        )
    )
    w = worker(data.draw(st.integers(0, 3)), skills, load=data.draw(st.integers(0, 5)))
    now = data.draw(st.floats(2000, 4000))
    expected = router.choose_task(w, tasks, now)
    got = queue.best_for(router, w, now)
    assert (got.id if got else None) == (expected.id if expected else None)
    assert len(queue) == len(tasks)
