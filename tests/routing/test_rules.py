from __future__ import annotations

from pathlib import Path

import pytest

from kefu.routing import rules
from kefu.routing.rules import WorkflowError, compile_workflow, load_text

DEFAULT = Path(rules.__file__).with_name("default_workflow.yaml")


def minimal(**overrides: object) -> dict:
    document: dict = {
        "queues": [{"name": "general", "expression": "true"}],
        "default": {"targets": [{"queue": "general"}]},
    }
    document.update(overrides)
    return document


def test_shipped_workflow_compiles() -> None:
    workflow = compile_workflow(load_text(DEFAULT.read_text()))
    assert {"credit_card", "complaint", "general"} <= set(workflow.queues)
    assert workflow.rules[0].name == "crisis"


def test_all_problems_are_reported_with_paths() -> None:
    document = minimal(
        rules=[
            {"name": "a", "when": "channel ==", "targets": [{"queue": "nowhere"}]},
            {"name": "a", "when": "chanel == 'sms'", "targets": [{"queue": "general"}]},
        ],
        queues=[{"name": "general", "expression": "skills.x >=", "sla": {"calendar": "nope"}}],
    )
    with pytest.raises(WorkflowError) as info:
        compile_workflow(document)
    paths = {p.path: p.message for p in info.value.problems}
    assert "expected a value" in paths["rules[0].when"]
    assert paths["rules[0].targets[0].queue"] == "no queue 'nowhere'"
    assert paths["rules[1].name"] == "duplicate rule 'a'"
    assert "unknown attribute 'chanel'" in paths["rules[1].when"]
    assert "expected a value" in paths["queues[0].expression"]
    assert paths["queues[0].sla.calendar"] == "no calendar 'nope'"


def test_schema_errors_name_the_field() -> None:
    with pytest.raises(WorkflowError) as info:
        compile_workflow(minimal(offer_timeout=1, surprise=True))
    paths = {p.path for p in info.value.problems}
    assert {"offer_timeout", "surprise"} <= paths


def test_bad_text_is_reported() -> None:
    with pytest.raises(WorkflowError, match="not valid JSON or YAML"):
        load_text("{ not json")
    with pytest.raises(WorkflowError, match="must be a mapping"):
        load_text("- a list")


def test_bullseye_rings_relax_skills() -> None:
    workflow = compile_workflow(
        minimal(
            rules=[
                {
                    "name": "card",
                    "when": "true",
                    "targets": [
                        {"queue": "general", "skills": {"credit_card": 4}, "relax_every": 30,
                         "relax_step": 2, "timeout": 60},
                        {"queue": "general"},
                    ],
                }
            ]
        )
    )  # fmt: skip
    rule = workflow.rules[0]
    assert [t.label for t in rule.targets] == [
        "skills.credit_card >= 4",
        "skills.credit_card >= 2",
        "true",
        "true",
    ]
    assert rule.starts == (0.0, 30.0, 60.0, 120.0)
