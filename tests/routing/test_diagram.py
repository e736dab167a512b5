"""The workflow picture: every rule, target and queue placed without overlaps, and the dry
run's path agreeing with the routing engine's own decision."""

from __future__ import annotations

import itertools

import pytest

from kefu.routing import diagram
from kefu.routing.engine import Router, Task
from kefu.routing.rules import compile_workflow, load_text
from kefu.routing.service import DEFAULT_WORKFLOW

WORKFLOW = compile_workflow(load_text(DEFAULT_WORKFLOW.read_text(encoding="utf-8")))

SAMPLES = [
    {"channel": "weibo", "text": "信用卡被盗刷了", "keywords": ["盗刷"], "sentiment": -0.8, "tier": "gold"},
    {"channel": "wechat", "text": "太慢了", "keywords": [], "sentiment": -0.6, "tier": None},
    {"channel": "sms", "text": "查账单", "keywords": [], "sentiment": 0.1, "intent": "bill_query"},
    {"channel": "webchat", "text": "hello", "keywords": ["english"], "sentiment": 0.0},
    {"channel": "sms", "text": "理财产品", "keywords": [], "sentiment": 0.2, "tier": "private"},
    {"channel": "sms", "text": "你好", "keywords": [], "sentiment": 0.0},
    {"channel": "weibo", "text": "好", "keywords": [], "sentiment": -0.9, "crisis": True},
]  # fmt: skip


def test_the_default_workflow_is_drawn_whole_and_without_overlaps() -> None:
    d = diagram.build(WORKFLOW)
    kinds = [n.kind for n in d.nodes]
    assert kinds.count("rule") == 5 and kinds.count("default") == 1
    assert kinds.count("queue") == 4 and kinds.count("calendar") == 1 and kinds.count("boosts") == 1
    targets = sum(len(r["targets"]) for r in WORKFLOW.document["rules"]) + 1
    assert kinds.count("target") == targets == 11
    for a, b in itertools.combinations(d.nodes, 2):
        apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
        assert apart, (a.id, b.id)
    for n in d.nodes:  # inside the picture, every line inside its box
        assert n.x >= 0 and n.x + n.w <= d.width and n.y >= 0 and n.y + n.h <= d.height
        assert len(n.lines) * diagram.LINE <= n.h
    # Readable on a 1366×768 screen: the page shows the picture at about natural size, so
    # the whole workflow fits in one screen's width and a little more than one screen's height.
    assert d.width <= 1200 and d.height <= 700
    ids = {n.id for n in d.nodes}
    assert all(e.source in ids and e.target in ids for e in d.edges)
    # Every target points at its queue, every rule at its first target, queues at calendars.
    to_queue = [e for e in d.edges if e.source.startswith("target-")]
    assert len(to_queue) == targets
    assert {e.target for e in to_queue} == {f"queue-{q}" for q in WORKFLOW.queues}
    assert ("queue-credit_card", "calendar-service_hours") in {
        (e.source, e.target) for e in d.edges
    }
    assert ("queue-complaint", "calendar-service_hours") not in {
        (e.source, e.target) for e in d.edges
    }


def test_nodes_show_the_rule_its_condition_priority_and_targets_in_words() -> None:
    d = diagram.build(WORKFLOW)
    crisis = d.node("rule-0")
    assert crisis.lines[0] == "1. crisis" and crisis.edit == "0"
    assert crisis.lines[1].startswith("when crisis or") and crisis.lines[1].endswith("…")
    assert "被盗" in crisis.full  # the whole condition is in the tooltip
    assert crisis.lines[2] == "priority 8"
    chip = d.node("target-0-0")
    assert chip.full == "1. 投诉与舆情 · complaint≥4 · relax every 30 s · then next after 2 min"
    assert d.node("target-3-0").full == "1. 综合 · skills.english >= 3 · then next after 3 min"
    assert d.node("rule-default").edit == "default"
    assert "+5 when crisis" in d.node("boosts").full


def test_clip_counts_chinese_characters_double() -> None:
    assert diagram.clip("abc", 100) == "abc"
    assert diagram.clip("投" * 20, 62) == "投" * 4 + "…"  # 62 px = 10 units = 5 wide characters
    assert diagram.clip("a" * 20, 62) == "a" * 9 + "…"  # the ellipsis takes the tenth


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_traced_path_is_the_engines_decision(sample: dict) -> None:
    router = Router(WORKFLOW)
    decision = router.classify(sample)
    trace = diagram.trace(WORKFLOW, sample)
    assert (trace.rule, trace.priority) == (decision.rule, decision.priority)
    names = [r.name for r in WORKFLOW.rules]
    tried = [name for name, _ in trace.tried]
    assert tried == names[: len(tried)]  # in order, stopping at the first match
    assert [m for _, m in trace.tried].count(True) == (0 if decision.rule == "default" else 1)
    for waited in (0, 59, 100, 239, 241, 299, 301, 659, 661, 10_000):
        queue = _spec_targets(decision.rule)[diagram.trace(WORKFLOW, sample, waited).target_index]
        task = Task(1, sample["channel"], decision.rule, decision.priority, 0.0)
        assert queue["queue"] == router.target(task, waited).queue, (decision.rule, waited)


def _spec_targets(rule: str) -> list[dict]:
    if rule == "default":
        return WORKFLOW.document["default"]["targets"]
    return next(r for r in WORKFLOW.document["rules"] if r["name"] == rule)["targets"]


def test_the_path_is_marked_on_the_picture() -> None:
    sample = {"channel": "wechat", "text": "等了很久", "keywords": [], "sentiment": -0.7,
              "tier": "platinum"}  # fmt: skip
    trace = diagram.trace(WORKFLOW, sample, waited=400)
    assert trace.rule == "negative_social" and trace.tried == (
        ("crisis", False),
        ("negative_social", True),
    )
    assert trace.boosts == ((0, 2), (1, 2)) and trace.priority == 5 + 2 + 2
    d = diagram.build(WORKFLOW, trace)
    states = {n.id: n.state for n in d.nodes if n.state}
    # complaint≥3 relaxes every 60 s (3 rings = 180 s) then waits 300 s: at 400 s still target 1.
    assert states == {"rule-0": "missed", "rule-1": "matched", "target-1-0": "current",
                      "queue-complaint": "current", "boosts": "applied"}  # fmt: skip
    highlighted = {(e.source, e.target) for e in d.edges if e.state}
    assert highlighted == {("rule-1", "target-1-0"), ("target-1-0", "queue-complaint")}
    assert "sample: 5 + 4 = priority 9" in d.node("boosts").full
    later = diagram.build(WORKFLOW, diagram.trace(WORKFLOW, sample, waited=481))
    assert later.node("target-1-1").state == "current" and later.node("queue-general").state


def test_words_go_through_the_translation_given() -> None:
    d = diagram.build(WORKFLOW, gettext=lambda s: {"priority %(n)s": "优先级 %(n)s"}.get(s, s))
    assert d.node("rule-0").lines[2] == "优先级 8"
