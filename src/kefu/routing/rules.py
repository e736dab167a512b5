"""Workflows as data: queues, calendars, ordered rules with targets, priority boosts.

A workflow is one JSON or YAML document (see docs/routing.md). It is validated as a whole and
every problem is reported with its path (``rules[2].targets[0].queue``) so an administrator can
fix a document in the admin UI without guessing. Valid documents are stored as numbered
versions; the newest active one routes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kefu.routing.expressions import ALWAYS, Expression, ExpressionError, parse

# What a workflow condition may read about a conversation, and a queue expression about an agent.
CONVERSATION_ATTRIBUTES = frozenset(
    {"channel", "intent", "sentiment", "tier", "keywords", "region", "crisis", "text",
     "subject", "customer", "hour",
     # a social post's analysis (kefu.social.analysis.PostAnalysis.routing_attributes)
     "emotion", "topic", "influence", "social_priority", "spam", "platform", "social_kind"}
)  # fmt: skip
WORKER_ATTRIBUTES = frozenset({"skills", "team", "region", "role", "username", "channels"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlaSpec(_Strict):
    first_response: int | None = Field(default=None, ge=1, description="seconds")
    resolution: int | None = Field(default=None, ge=1, description="seconds")
    calendar: str = "always"
    escalate_on_breach: bool = False


class QueueSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str = ""
    expression: str = "true"
    sla: SlaSpec = SlaSpec()
    max_waiting: int | None = Field(default=None, ge=1)
    overflow_reply: str = "您好，当前咨询量较大，我们已记录您的问题，稍后会尽快回复您。"


class CalendarSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    timezone: str = "Asia/Shanghai"
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], tuple[time, time]] = {}
    holidays: list[str] = []


class TargetSpec(_Strict):
    queue: str
    expression: str | None = None
    timeout: int | None = Field(default=None, ge=1, description="seconds before the next target")
    skills: dict[str, int] = {}
    relax_every: int | None = Field(default=None, ge=1, description="bullseye: seconds per ring")
    relax_step: int = Field(default=1, ge=1, le=5)


class RuleSpec(_Strict):
    name: str = Field(min_length=1, max_length=64)
    when: str
    priority: int = Field(default=0, ge=0, le=100)
    targets: list[TargetSpec] = Field(min_length=1)


class DefaultSpec(_Strict):
    priority: int = Field(default=0, ge=0, le=100)
    targets: list[TargetSpec] = Field(min_length=1)


class BoostSpec(_Strict):
    when: str
    add: int = Field(ge=-100, le=100)


class AgingSpec(_Strict):
    every: int = Field(default=60, ge=1, description="seconds of waiting per step")
    step: int = Field(default=1, ge=0)
    max: int = Field(default=10, ge=0)


class WorkflowSpec(_Strict):
    queues: list[QueueSpec] = Field(min_length=1)
    calendars: list[CalendarSpec] = []
    rules: list[RuleSpec] = []
    default: DefaultSpec
    boosts: list[BoostSpec] = []
    aging: AgingSpec = AgingSpec()
    offer_timeout: int = Field(default=30, ge=5, le=3600)
    capacity: dict[str, int] = {"sms": 5, "wechat": 5, "weibo": 20, "webchat": 5}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class WorkflowError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Target:
    """One ring of a rule: a queue plus an optional tighter agent filter, for ``timeout`` s."""

    key: int  # unique within the workflow, used to cache eligibility
    queue: str
    expression: Expression
    timeout: float | None
    label: str


@dataclass(frozen=True)
class Rule:
    name: str
    when: Expression
    priority: int
    targets: tuple[Target, ...]
    # Seconds after enqueueing at which each target starts; the last one has no end.
    starts: tuple[float, ...] = ()


@dataclass(frozen=True)
class Queue:
    name: str
    label: str
    expression: Expression
    sla: SlaSpec
    max_waiting: int | None
    overflow_reply: str


@dataclass(frozen=True)
class Workflow:
    queues: dict[str, Queue]
    rules: tuple[Rule, ...]
    default: Rule
    boosts: tuple[tuple[Expression, int], ...]
    aging: AgingSpec
    offer_timeout: int
    capacity: dict[str, int]
    calendars: dict[str, CalendarSpec] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        return self.default


def load_text(text: str) -> dict[str, Any]:
    """JSON or YAML text → document; YAML is a superset of JSON, but JSON errors read better."""
    stripped = text.lstrip()
    try:
        document = json.loads(text) if stripped.startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise WorkflowError([Problem("$", f"not valid JSON or YAML: {exc}")]) from None
    if not isinstance(document, dict):
        raise WorkflowError([Problem("$", "the document must be a mapping (JSON object)")])
    return document


def _path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "$"


def compile_workflow(document: dict[str, Any]) -> Workflow:
    """Validates ``document`` and compiles its expressions; raises WorkflowError listing all."""
    try:
        spec = WorkflowSpec.model_validate(document)
    except ValidationError as exc:
        raise WorkflowError(
            [Problem(_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        ) from None
    problems: list[Problem] = []

    def expression(source: str, roots: frozenset[str], path: str) -> Expression:
        try:
            return parse(source, allowed_roots=roots)
        except ExpressionError as exc:
            problems.append(Problem(path, f"{exc.message} at position {exc.position}"))
            return ALWAYS

    calendars = {c.name: c for c in spec.calendars}
    for i, cal in enumerate(spec.calendars):
        for day, (start, end) in cal.hours.items():
            if end <= start:
                problems.append(Problem(f"calendars[{i}].hours.{day}", "end must be after start"))
    queues: dict[str, Queue] = {}
    for i, q in enumerate(spec.queues):
        if q.name in queues:
            problems.append(Problem(f"queues[{i}].name", f"duplicate queue {q.name!r}"))
        if q.sla.calendar != "always" and q.sla.calendar not in calendars:
            problems.append(Problem(f"queues[{i}].sla.calendar", f"no calendar {q.sla.calendar!r}"))
        queues[q.name] = Queue(
            q.name,
            q.label or q.name,
            expression(q.expression, WORKER_ATTRIBUTES, f"queues[{i}].expression"),
            q.sla,
            q.max_waiting,
            q.overflow_reply,
        )
    keys = iter(range(1, 1_000_000))

    def targets(specs: list[TargetSpec], path: str) -> tuple[Target, ...]:
        compiled: list[Target] = []
        for j, t in enumerate(specs):
            where = f"{path}.targets[{j}]"
            if t.queue not in queues:
                problems.append(Problem(f"{where}.queue", f"no queue {t.queue!r}"))
            for ring in _rings(t):
                clauses = [f"({t.expression})"] if t.expression else []
                clauses += [f"skills.{s} >= {level}" for s, level in sorted(ring[0].items())]
                source = " and ".join(clauses) or "true"
                compiled.append(
                    Target(
                        next(keys),
                        t.queue,
                        expression(source, WORKER_ATTRIBUTES, where),
                        ring[1],
                        source,
                    )
                )
            for skill, level in t.skills.items():
                if not 0 <= level <= 5:
                    problems.append(Problem(f"{where}.skills.{skill}", "proficiency is 0–5"))
        return tuple(compiled)

    rules: list[Rule] = []
    names: set[str] = set()
    for i, r in enumerate(spec.rules):
        if r.name in names:
            problems.append(Problem(f"rules[{i}].name", f"duplicate rule {r.name!r}"))
        names.add(r.name)
        when = expression(r.when, CONVERSATION_ATTRIBUTES, f"rules[{i}].when")
        rules.append(_rule(r.name, when, r.priority, targets(r.targets, f"rules[{i}]")))
    default = _rule(
        "default", ALWAYS, spec.default.priority, targets(spec.default.targets, "default")
    )
    boosts = tuple(
        (expression(b.when, CONVERSATION_ATTRIBUTES, f"boosts[{i}].when"), b.add)
        for i, b in enumerate(spec.boosts)
    )
    if problems:
        raise WorkflowError(problems)
    return Workflow(
        queues, tuple(rules), default, boosts, spec.aging, spec.offer_timeout,
        dict(spec.capacity), calendars, spec.model_dump(mode="json"),
    )  # fmt: skip


def _rings(target: TargetSpec) -> list[tuple[dict[str, int], float | None]]:
    """Bullseye: the required proficiencies lowered ring by ring until nothing is required."""
    if not target.skills or target.relax_every is None:
        return [(dict(target.skills), target.timeout)]
    rings: list[tuple[dict[str, int], float | None]] = []
    levels = dict(target.skills)
    while any(level > 0 for level in levels.values()):
        rings.append(({s: v for s, v in levels.items() if v > 0}, float(target.relax_every)))
        levels = {s: max(0, v - target.relax_step) for s, v in levels.items()}
    rings.append(({}, target.timeout))
    return rings


def _rule(name: str, when: Expression, priority: int, targets: tuple[Target, ...]) -> Rule:
    starts: list[float] = []
    elapsed = 0.0
    for target in targets:
        starts.append(elapsed)
        # A target without a timeout keeps the task for good; later targets are unreachable.
        elapsed += target.timeout if target.timeout is not None else float("inf")
    return Rule(name, when, priority, targets, tuple(starts))
