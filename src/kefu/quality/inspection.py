"""Quality inspection (质检): a conversation's messages checked against rules kept as data
(rules.yaml, or the file in ``KEFU_QUALITY`` ``rules_file``), each violation a finding, the
score 0–100 from the rules' weights. Pure functions over plain messages, so the labelled set
(tests/quality/data) and the benchmark run the very code the worker runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kefu.privacy import mask_text

RULES_PATH = Path(__file__).with_name("rules.yaml")
_FOLD = str.maketrans("０１２３４５６７８９，！？：；（）", "0123456789,!?:;()")


@dataclass(frozen=True)
class Msg:
    sender: str  # customer | agent | bot | system
    text: str
    at: datetime


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    detail: str
    message: int | None = None  # index into the conversation's messages

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, "detail": self.detail,
                "message": self.message}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    weight: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]

    @property
    def total_weight(self) -> float:
        return sum(r.weight for r in self.rules)


@dataclass(frozen=True)
class Result:
    score: float
    findings: list[Finding]
    version: str


class RulesError(ValueError):
    """The rules file is not usable; the message names the rule and the field."""


def _norm(text: str) -> str:
    return text.translate(_FOLD).lower()


def _has(text: str, phrases: Sequence[str]) -> str | None:
    folded = _norm(text)
    return next((p for p in phrases if _norm(p) in folded), None)


def _agent(messages: Sequence[Msg]) -> list[tuple[int, Msg]]:
    return [(i, m) for i, m in enumerate(messages) if m.sender == "agent"]


def check_greeting(rule: Rule, messages: Sequence[Msg]) -> list[Finding]:
    agent = _agent(messages)
    if not agent:
        return []
    i, first = agent[0]
    if _has(first.text, rule.options["phrases"]):
        return []
    return [Finding(rule.id, rule.name, "坐席首条消息没有问候语", i)]


def check_identity(rule: Rule, messages: Sequence[Msg]) -> list[Finding]:
    verify, account = rule.options["verify_phrases"], rule.options["account_phrases"]
    for i, m in enumerate(messages):
        if _has(m.text, verify):
            return []  # verified (by anyone's message: a code sent, a question answered)
        if m.sender == "agent" and (said := _has(m.text, account)):
            return [Finding(rule.id, rule.name, f"核实身份前提及账户信息「{said}」", i)]
    return []


def check_forbidden(rule: Rule, messages: Sequence[Msg]) -> list[Finding]:
    allowed = rule.options.get("allowed_contexts", [])
    found = []
    for i, m in _agent(messages):
        text = _norm(m.text)
        for context in allowed:
            text = text.replace(_norm(context), "")
        if said := _has(text, rule.options["phrases"]):
            found.append(Finding(rule.id, rule.name, f"使用了禁用语或不当承诺「{said}」", i))
    return found


def check_gap(rule: Rule, messages: Sequence[Msg]) -> list[Finding]:
    """A customer message an agent answered more than N minutes later (counted from the
    agent's first message: the queue's wait is routing's SLA, not the agent's)."""
    limit = float(rule.options.get("minutes", 10)) * 60
    found, waiting_since, started = [], None, False
    for i, m in enumerate(messages):
        if m.sender == "agent":
            if started and waiting_since is not None:
                gap = (m.at - waiting_since).total_seconds()
                if gap > limit:
                    found.append(
                        Finding(rule.id, rule.name, f"客户等待回复 {gap / 60:.0f} 分钟", i)
                    )
            started, waiting_since = True, None
        elif m.sender == "customer" and waiting_since is None:
            waiting_since = m.at
    return found


Sentiment = Callable[[str], float]


def _polarity(text: str) -> float:
    from kefu.language.analyze import analyze  # loads models: only when a rule needs them

    return analyze(text, deep=False).sentiment.score


def check_sentiment_turn(
    rule: Rule, messages: Sequence[Msg], polarity: Sentiment = _polarity
) -> list[Finding]:
    customer = [(i, m) for i, m in enumerate(messages) if m.sender == "customer"]
    if len(customer) < 2:
        return []
    threshold = float(rule.options.get("threshold", -0.3))
    first, (last_i, last) = polarity(customer[0][1].text), customer[-1]
    end = polarity(last.text)
    if first > threshold and end <= threshold:
        return [Finding(rule.id, rule.name, f"客户情绪由 {first:+.2f} 转为 {end:+.2f}", last_i)]
    return []


def check_closing(rule: Rule, messages: Sequence[Msg]) -> list[Finding]:
    agent = _agent(messages)
    if not agent:
        return []
    i, last = agent[-1]
    if _has(last.text, rule.options["phrases"]):
        return []
    return [Finding(rule.id, rule.name, "坐席末条消息缺少规范结束语", i)]


def check_pii(rule: Rule, messages: Sequence[Msg]) -> list[Finding]:
    return [
        Finding(rule.id, rule.name, "坐席消息中有未脱敏的卡号、证件号或手机号", i)
        for i, m in _agent(messages)
        if mask_text(m.text) != m.text
    ]


CHECKS: dict[str, Callable[..., list[Finding]]] = {
    "greeting": check_greeting,
    "identity_before_account": check_identity,
    "forbidden": check_forbidden,
    "response_gap": check_gap,
    "sentiment_turn": check_sentiment_turn,
    "closing": check_closing,
    "unmasked_pii": check_pii,
}
_REQUIRED = {
    "greeting": ("phrases",),
    "identity_before_account": ("verify_phrases", "account_phrases"),
    "forbidden": ("phrases",),
    "closing": ("phrases",),
}


def parse_rules(data: Any) -> RuleSet:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RulesError("rules: a list of rules is required")
    rules, seen = [], set()
    for n, raw in enumerate(data["rules"]):
        if not isinstance(raw, dict):
            raise RulesError(f"rules[{n}]: a mapping is required")
        rid, kind = str(raw.get("id", "")), raw.get("kind")
        if not rid or rid in seen:
            raise RulesError(f"rules[{n}].id: missing or used twice")
        if kind not in CHECKS:
            raise RulesError(f"rules[{n}].kind: one of {', '.join(CHECKS)}")
        weight = raw.get("weight")
        if not isinstance(weight, (int, float)) or weight <= 0:
            raise RulesError(f"rules[{n}].weight: a positive number")
        for key in _REQUIRED.get(kind, ()):
            if not isinstance(raw.get(key), list) or not raw[key]:
                raise RulesError(f"rules[{n}].{key}: a list of phrases is required")
        options = {k: v for k, v in raw.items() if k not in ("id", "name", "kind", "weight")}
        rules.append(Rule(rid, str(raw.get("name") or rid), kind, float(weight), options))
        seen.add(rid)
    if not rules:
        raise RulesError("rules: at least one rule")
    return RuleSet(str(data.get("version", "")), tuple(rules))


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> RuleSet:
    source = Path(path) if path else RULES_PATH
    try:
        return parse_rules(yaml.safe_load(source.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{source}: {exc}") from exc


def inspect(messages: Sequence[Msg], rules: RuleSet, *, polarity: Sentiment = _polarity) -> Result:
    findings: list[Finding] = []
    violated: set[str] = set()
    for rule in rules.rules:
        check = CHECKS[rule.kind]
        found = (
            check(rule, messages, polarity) if rule.kind == "sentiment_turn"
            else check(rule, messages)
        )  # fmt: skip
        if found:
            violated.add(rule.id)
            findings.extend(found)
    lost = sum(r.weight for r in rules.rules if r.id in violated)
    score = round(100.0 * (1 - lost / rules.total_weight), 1)
    return Result(score, findings, rules.version)
