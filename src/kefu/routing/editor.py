"""Editing the workflow through forms on the diagram: form fields → the workflow document.

Every edit produces a whole new document which is then validated by ``compile_workflow``, the
very function the YAML editor and the JSON API use, so a form can never store something the
YAML editor would refuse (or the other way round). Values are passed on as typed, not
converted here: "8" becomes 8 and "abc" fails with the same error, at the same path, as it
would in YAML. Only what YAML writes as structure is parsed here (the skills
"complaint:4, english:3" → a mapping), with its own error naming the field.

Saving checks the version the editor started from (optimistic concurrency): two supervisors
editing version N cannot silently overwrite each other; the second is told, and keeps their
edit on the page.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.routing import service
from kefu.routing.models import WorkflowVersion
from kefu.routing.rules import Problem, WorkflowError
from kefu.web.i18n import N_, gettext_

TARGET_FIELDS = ("queue", "skills", "expression", "relax_every", "relax_step", "timeout")
MAX_TARGETS = 8
_SKILL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:：=]\s*(\S+)\s*$")


class FormError(ValueError):
    """Form fields that could not be turned into a document; keyed by field name."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class VersionConflict(Exception):
    """Someone saved a newer version since the editor loaded ``base``."""

    base: int
    current: int
    by: str


def rule_from_form(form: Mapping[str, str], *, is_default: bool = False) -> dict[str, Any]:
    """The rule as a document fragment from the fields ``name``, ``when``, ``priority`` and
    ``t<j>_<field>`` for each target row (a row whose queue is empty is left out: that is how a
    target is removed; the form's last row is blank for adding one)."""
    errors: dict[str, str] = {}
    rule: dict[str, Any] = {}
    if not is_default:
        rule["name"] = form.get("name", "").strip()
        rule["when"] = form.get("when", "").strip()
    priority = form.get("priority", "").strip()
    if priority:
        rule["priority"] = priority
    targets: list[dict[str, Any]] = []
    for j in range(MAX_TARGETS):
        row = {f: form.get(f"t{j}_{f}", "").strip() for f in TARGET_FIELDS}
        if not row["queue"]:
            continue
        target: dict[str, Any] = {"queue": row["queue"]}
        if row["skills"]:
            try:
                target["skills"] = parse_skills(row["skills"])
            except ValueError as exc:
                errors[f"t{j}_skills"] = str(exc)
        if row["expression"]:
            target["expression"] = row["expression"]
        for number in ("relax_every", "relax_step", "timeout"):
            if row[number]:
                target[number] = row[number]
        targets.append(target)
    rule["targets"] = targets
    if errors:
        raise FormError(errors)
    return rule


def parse_skills(text: str) -> dict[str, Any]:
    """ "complaint:4, english:3" (also ，、; or 全角 colon) → {"complaint": "4", "english": "3"};
    the levels stay text for the workflow's own validation to judge."""
    skills: dict[str, Any] = {}
    for part in re.split(r"[,，、;；]", text):
        if not part.strip():
            continue
        match = _SKILL.match(part)
        if match is None:
            raise ValueError(gettext_("Write skills as name:level, e.g. complaint:4, english:3."))
        skills[match.group(1)] = match.group(2)
    return skills


def _index(document: Mapping[str, Any], key: str) -> int:
    rules = document.get("rules", [])
    if not key.isdigit() or int(key) >= len(rules):
        raise KeyError(key)
    return int(key)


def put_rule(document: Mapping[str, Any], key: str, rule: dict[str, Any]) -> dict[str, Any]:
    """``document`` with rule ``key`` ("0", "1", …, "default", or "new" to append) replaced."""
    edited = copy.deepcopy(dict(document))
    if key == "default":
        edited["default"] = rule
    elif key == "new":
        edited.setdefault("rules", []).append(rule)
    else:
        edited["rules"][_index(edited, key)] = rule
    return edited


def move_rule(document: Mapping[str, Any], key: str, delta: int) -> dict[str, Any]:
    """Rule order is precedence: the first whose condition holds wins."""
    edited = copy.deepcopy(dict(document))
    i = _index(edited, key)
    j = max(0, min(len(edited["rules"]) - 1, i + delta))
    edited["rules"].insert(j, edited["rules"].pop(i))
    return edited


def delete_rule(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    edited = copy.deepcopy(dict(document))
    edited["rules"].pop(_index(edited, key))
    return edited


def rule_form(document: Mapping[str, Any], key: str) -> dict[str, str]:
    """The form fields showing rule ``key`` as stored (the inverse of ``rule_from_form``)."""
    if key == "new":
        return {"name": "", "when": "", "priority": "0", "t0_queue": ""}
    rule = document["default"] if key == "default" else document["rules"][_index(document, key)]
    fields = {"name": rule.get("name", ""), "when": rule.get("when", ""),
              "priority": str(rule.get("priority", 0))}  # fmt: skip
    for j, target in enumerate(rule["targets"]):
        for f in TARGET_FIELDS:
            value = target.get(f)
            if f == "skills":
                value = ", ".join(f"{s}:{v}" for s, v in (value or {}).items())
            elif f == "relax_step" and not target.get("relax_every"):
                value = None  # the default, only meaningful with relax_every
            fields[f"t{j}_{f}"] = "" if value is None else str(value)
    return fields


def field_errors(problems: list[Problem], key: str) -> tuple[dict[str, str], list[Problem]]:
    """Problems about rule ``key`` keyed by the form field they belong to; the rest apart
    (e.g. another rule with the same name, or a problem the form cannot show)."""
    prefix = "default" if key == "default" else f"rules[{key}]"
    fields: dict[str, str] = {}
    others: list[Problem] = []
    for p in problems:
        rest = p.path.removeprefix(prefix) if p.path.startswith(prefix) else None
        match = re.match(r"^\.targets\[(\d+)\]\.?([a-z_]*)", rest or "")
        if rest is None:
            others.append(p)
        elif match:
            name = match.group(2) if match.group(2) in TARGET_FIELDS else "queue"
            fields.setdefault(f"t{match.group(1)}_{name}", describe(p.message))
        elif rest in (".name", ".when", ".priority", ".targets"):
            fields.setdefault(rest[1:], describe(p.message))
        else:
            others.append(p)
    return fields, others


async def save_version(
    session: AsyncSession, *, document: dict[str, Any], base: int, comment: str, actor: str
) -> WorkflowVersion:
    """Validates and stores ``document`` as the next version, unless a version newer than
    ``base`` exists: raises VersionConflict (or WorkflowError)."""
    latest = await session.scalar(
        select(WorkflowVersion).order_by(WorkflowVersion.version.desc()).limit(1)
    )
    if latest is not None and latest.version != base:
        raise VersionConflict(base, latest.version, latest.created_by)
    try:
        return await service.save_workflow(session, document=document, comment=comment, actor=actor)
    except IntegrityError:
        # Both read version N at once; the unique version number let only one through.
        await session.rollback()
        latest = await session.scalar(
            select(WorkflowVersion).order_by(WorkflowVersion.version.desc()).limit(1)
        )
        raise VersionConflict(
            base, latest.version if latest else base + 1, latest.created_by if latest else ""
        ) from None


# -- the workflow's English problems in the reader's language ---------------------------------
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), m)
    for p, m in [
        (r"unknown attribute '(?P<name>[^']*)' \(known: (?P<known>[^)]*)\) at position (?P<pos>\d+)",
         N_("Unknown attribute “%(name)s” at position %(pos)s (known: %(known)s).")),
        (r"unexpected character (?P<char>'.*') at position (?P<pos>\d+)",
         N_("Unexpected character %(char)s at position %(pos)s.")),
        (r"expected a value or attribute, found (?P<found>.+) at position (?P<pos>\d+)",
         N_("A value or attribute was expected at position %(pos)s, found %(found)s.")),
        (r"expected (?P<want>.+), found (?P<found>.+) at position (?P<pos>\d+)",
         N_("Expected %(want)s but found %(found)s at position %(pos)s.")),
        (r"unexpected (?P<what>'.*') at position (?P<pos>\d+)",
         N_("Unexpected %(what)s at position %(pos)s.")),
        (r"empty expression at position \d+", N_("The condition is empty.")),
        (r"no queue '(?P<queue>[^']*)'", N_("There is no queue “%(queue)s”.")),
        (r"duplicate rule '(?P<name>[^']*)'", N_("Another rule is already called “%(name)s”.")),
        (r"Field required", N_("Required.")),
        (r"Input should be a valid integer.*", N_("Enter a whole number.")),
        (r"Input should be greater than or equal to (?P<n>-?\d+)", N_("At least %(n)s.")),
        (r"Input should be less than or equal to (?P<n>-?\d+)", N_("At most %(n)s.")),
        (r"String should have at least 1 character", N_("Required.")),
        (r"String should have at most (?P<n>\d+) characters", N_("At most %(n)s characters.")),
        (r"List should have at least 1 item.*", N_("Give at least one target (a queue).")),
        (r"proficiency is 0–5", N_("A skill level is 0 to 5.")),
    ]
]  # fmt: skip


def describe(message: str) -> str:
    """A workflow problem in the reader's language; unknown messages unchanged."""
    for pattern, template in _PATTERNS:
        match = pattern.fullmatch(message.strip())
        if match:
            return gettext_(template) % match.groupdict()
    return message


def describe_all(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": describe(p.message)} for p in problems]


__all__ = ["FormError", "VersionConflict", "WorkflowError"]
