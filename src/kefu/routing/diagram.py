"""The routing workflow as a picture: rules → their target chains → queues → calendars, with
the priority boosts beside them, laid out on a fixed grid for a server-rendered SVG.

Pure: a compiled :class:`Workflow` (and optionally a dry-run :class:`Trace`) in, nodes with
positions and edges out. No database, no HTML: the template draws what this module places, and
Jinja escapes every text (rule names and conditions are user text). Words go through the
``gettext`` callable the caller passes, so the layout stays testable without a request.

A grid rather than a general graph layout: a workflow is a short ordered list of rules whose
targets point into a handful of queues, so columns read in the order routing works (first
matching rule, its targets in turn, the queue's agents, the queue's hours) and nothing moves
when a rule is edited, which a force layout cannot promise.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kefu.routing.rules import Workflow

Translate = Callable[[str], str]


def N_(message: str) -> str:  # marks a word for the catalogue; translated when drawn
    return message


WEEKDAY_NAMES = {"mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"),
                 "fri": N_("Fri"), "sat": N_("Sat"), "sun": N_("Sun")}  # fmt: skip

# Grid (SVG user units; the page scales the picture to its width, 1366 px screens show it
# at about natural size). Widths are in "units" of one Latin character; a CJK character is two.
RULE_X, RULE_W = 10, 300
TARGET_X, TARGET_W = 350, 290
QUEUE_X, QUEUE_W = 690, 230
SIDE_X, SIDE_W = 960, 230
WIDTH = SIDE_X + SIDE_W + 10
TOP = 34  # below the column headings
ROW_GAP = 12
LINE = 17  # one text line
CHIP_H = 26  # one target
RULE_MIN_H = 3 * LINE + 12
QUEUE_H = 4 * LINE + 12
CHARS_PER_PX = 1 / 6.2  # 12 px sans-serif: about 6 px per Latin character, a margin kept


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # rule, default, target, queue, calendar, boosts
    x: int
    y: int
    w: int
    h: int
    lines: tuple[str, ...]  # first line is the title
    full: str = ""  # the unclipped text, shown as the node's tooltip
    edit: str | None = None  # which rule's form the node opens ("0", "1", …, "default")
    state: str = ""  # dry run: matched, missed, current, applied (empty: not on the path)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # SVG path data
    label: str = ""
    state: str = ""


@dataclass(frozen=True)
class Trace:
    """Where one sample conversation goes: every rule tried in order until one matched."""

    tried: tuple[tuple[str, bool], ...]  # (rule name, matched), in workflow order
    rule: str
    base_priority: int
    boosts: tuple[tuple[int, int], ...]  # (index of the boost, points added) that applied
    priority: int  # rule priority plus boosts, never below 0
    target_index: int  # the target serving the conversation after ``waited`` seconds
    waited: float = 0.0


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    headings: tuple[tuple[int, str], ...] = field(default=())

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


def trace(workflow: Workflow, attributes: Mapping[str, Any], waited: float = 0.0) -> Trace:
    """The same decision as ``Router.classify`` (first rule whose condition holds, else the
    default; boosts added; floored at 0), keeping each step so the picture can show it."""
    tried: list[tuple[str, bool]] = []
    chosen = workflow.default
    for rule in workflow.rules:
        matched = rule.when(attributes)
        tried.append((rule.name, matched))
        if matched:
            chosen = rule
            break
    applied = tuple((i, add) for i, (when, add) in enumerate(workflow.boosts) if when(attributes))
    priority = max(0, chosen.priority + sum(add for _, add in applied))
    # Compiled targets are bullseye rings; count the document's targets instead (one chip each).
    spec_targets = _spec_rule(workflow.document, chosen.name)["targets"]
    index, elapsed = 0, 0.0
    for j, target in enumerate(spec_targets):
        index = j
        timeout = _chain_seconds(target)
        if timeout is None or waited < elapsed + timeout:
            break
        elapsed += timeout
    return Trace(tuple(tried), chosen.name, chosen.priority, applied, priority, index, waited)


def _chain_seconds(target: Mapping[str, Any]) -> float | None:
    """How long one document target holds a conversation: its bullseye rings, then its
    timeout (None: for good)."""
    if target.get("timeout") is None:
        return None
    rings = 0
    skills = dict(target.get("skills") or {})
    if skills and target.get("relax_every"):
        step = target.get("relax_step") or 1
        top = max(skills.values())
        rings = -(-top // step) if top > 0 else 0
        return float(rings * target["relax_every"] + target["timeout"])
    return float(target["timeout"])


def _spec_rule(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if name == "default":
        return document["default"]
    return next(r for r in document.get("rules", []) if r["name"] == name)


def clip(text: str, width_px: int) -> str:
    """``text`` cut to fit ``width_px`` at 12 px, with an ellipsis; CJK counts double."""
    budget = int(width_px * CHARS_PER_PX)
    used = 0
    for i, ch in enumerate(text):
        # Ambiguous-width signs (· ≥ …) are drawn wide by the Chinese fonts the page asks for.
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 1
        if used > budget:
            return text[: max(0, i - 1)] + "…"
    return text


def seconds(value: float | int | None, _: Translate) -> str:
    if value is None:
        return ""
    value = int(value)
    if value % 3600 == 0 and value >= 3600:
        return _("%(n)s h") % {"n": value // 3600}
    if value % 60 == 0 and value >= 60:
        return _("%(n)s min") % {"n": value // 60}
    return _("%(n)s s") % {"n": value}


def target_text(target: Mapping[str, Any], queue_label: str, _: Translate) -> str:
    """One target in words: queue, required skills, bullseye relaxing, timeout."""
    parts = [queue_label]
    skills = target.get("skills") or {}
    if skills:
        parts.append(", ".join(f"{s}≥{level}" for s, level in sorted(skills.items())))
    if target.get("expression"):
        parts.append(str(target["expression"]))
    if skills and target.get("relax_every"):
        parts.append(_("relax every %(t)s") % {"t": seconds(target["relax_every"], _)})
    if target.get("timeout") is not None:
        parts.append(_("then next after %(t)s") % {"t": seconds(target["timeout"], _)})
    return " · ".join(parts)


def build(workflow: Workflow, trace_: Trace | None = None, gettext: Translate = str) -> Diagram:
    """Places every rule, target, queue, calendar and the boosts; marks the dry run's path."""
    _ = gettext
    document = workflow.document
    queues = {q["name"]: q for q in document["queues"]}
    nodes: list[Node] = []
    edges: list[Edge] = []

    # Which rules the sample tried, and the path it took.
    tried = dict(trace_.tried) if trace_ else {}
    on_path = trace_.rule if trace_ else None

    rows = [(str(i), r) for i, r in enumerate(document.get("rules", []))]
    rows.append(("default", {"name": "default", "when": "true", **document["default"]}))
    used_queues: list[str] = []
    y = TOP
    for order, (key, rule) in enumerate(rows, start=1):
        targets = rule["targets"]
        height = max(RULE_MIN_H, len(targets) * (CHIP_H + 6) + 6)
        is_default = key == "default"
        title = _("Otherwise (default)") if is_default else f"{order}. {rule['name']}"
        when = _("when")
        condition = _("every other conversation") if is_default else f"{when} {rule['when']}"
        priority = _("priority %(n)s") % {"n": rule.get("priority", 0)}
        state = ""
        if trace_:
            if rule["name"] == on_path:
                state = "matched"
            elif rule["name"] in tried:
                state = "missed"
        rule_id = f"rule-{key}"
        nodes.append(
            Node(
                rule_id, "default" if is_default else "rule", RULE_X, y, RULE_W, height,
                (clip(title, RULE_W - 16), clip(condition, RULE_W - 16), priority),
                full=f"{title}\n{condition}\n{priority}", edit=key, state=state,
            )
        )  # fmt: skip
        for j, target in enumerate(targets):
            queue = queues.get(target["queue"], {"name": target["queue"], "label": ""})
            label = queue.get("label") or queue["name"]
            text = f"{j + 1}. " + target_text(target, label, _)
            ty = y + 6 + j * (CHIP_H + 6)
            target_id = f"target-{key}-{j}"
            chip_state = (
                "current" if state == "matched" and trace_ and j == trace_.target_index else ""
            )
            nodes.append(
                Node(target_id, "target", TARGET_X, ty, TARGET_W, CHIP_H,
                     (clip(text, TARGET_W - 16),), full=text, edit=key, state=chip_state)
            )  # fmt: skip
            if j == 0:
                edges.append(
                    Edge(rule_id, target_id, _straight(RULE_X + RULE_W, ty + CHIP_H // 2,
                                                      TARGET_X), state="matched" if state == "matched" else "")
                )  # fmt: skip
            if target["queue"] not in used_queues:
                used_queues.append(target["queue"])
        y += height + ROW_GAP
    rules_bottom = y

    # Queues in the order the rules first reach them (fewer crossings), then unreferenced ones.
    order = used_queues + [q for q in queues if q not in used_queues]
    queue_y: dict[str, int] = {}
    current_queue = None
    if trace_:
        chosen = rows[-1][1] if on_path == "default" else _spec_rule(document, on_path or "")
        current_queue = chosen["targets"][trace_.target_index]["queue"]
    qy = TOP
    for name in order:
        if name not in queues:
            continue  # a target naming a missing queue: validation reports it, draw no box
        q = queues[name]
        sla = q.get("sla") or {}
        first, resolve = sla.get("first_response"), sla.get("resolution")
        sla_text = " · ".join(
            t
            for t in (
                _("first reply %(t)s") % {"t": seconds(first, _)} if first else "",
                _("resolve %(t)s") % {"t": seconds(resolve, _)} if resolve else "",
            )
            if t
        ) or _("no SLA")
        calendar = sla.get("calendar", "always")
        hours = (
            _("around the clock") if calendar == "always" else _("hours: %(c)s") % {"c": calendar}
        )
        title = f"{q.get('label') or name} ({name})"
        agents = _("agents: %(e)s") % {"e": q.get("expression", "true")}
        nodes.append(
            Node(
                f"queue-{name}", "queue", QUEUE_X, qy, QUEUE_W, QUEUE_H,
                tuple(clip(t, QUEUE_W - 16) for t in (title, agents, sla_text, hours)),
                full="\n".join((title, agents, sla_text, hours)),
                state="current" if name == current_queue else "",
            )
        )  # fmt: skip
        queue_y[name] = qy
        qy += QUEUE_H + ROW_GAP

    for node in [n for n in nodes if n.kind == "target"]:
        key, j = node.id.removeprefix("target-").rsplit("-", 1)
        target = rows[int(key) if key != "default" else -1][1]["targets"][int(j)]
        if target["queue"] not in queue_y:
            continue
        edges.append(
            Edge(node.id, f"queue-{target['queue']}",
                 _curve(TARGET_X + TARGET_W, node.y + CHIP_H // 2, QUEUE_X,
                        queue_y[target["queue"]] + QUEUE_H // 2),
                 state="current" if node.state == "current" else "")
        )  # fmt: skip

    # Side column: calendars the queues use, then the boosts and aging.
    sy = TOP
    calendar_y: dict[str, int] = {}
    for cal in document.get("calendars", []):
        hours = cal.get("hours") or {}
        days = ", ".join(
            f"{_(WEEKDAY_NAMES[d])} {a[:5]}–{b[:5]}" for d, (a, b) in hours.items()
        ) or _("no hours")
        lines = [cal["name"], cal.get("timezone", ""), days]
        if cal.get("holidays"):
            lines.append(_("%(n)s holidays") % {"n": len(cal["holidays"])})
        h = len(lines) * LINE + 12
        nodes.append(
            Node(f"calendar-{cal['name']}", "calendar", SIDE_X, sy, SIDE_W, h,
                 tuple(clip(t, SIDE_W - 16) for t in lines), full="\n".join(lines))
        )  # fmt: skip
        calendar_y[cal["name"]] = sy
        sy += h + ROW_GAP
    for name, y0 in queue_y.items():
        calendar = (queues[name].get("sla") or {}).get("calendar", "always")
        if calendar in calendar_y:
            edges.append(
                Edge(f"queue-{name}", f"calendar-{calendar}",
                     _curve(QUEUE_X + QUEUE_W, y0 + QUEUE_H - 10, SIDE_X, calendar_y[calendar] + 14))
            )  # fmt: skip

    applied = dict(trace_.boosts) if trace_ else {}
    when = _("when")
    boost_lines = [_("Priority boosts")]
    for i, boost in enumerate(document.get("boosts", [])):
        mark = "✓ " if i in applied else ""
        boost_lines.append(f"{mark}{boost['add']:+d} {when} {boost['when']}")
    aging = document.get("aging") or {}
    if aging.get("step"):
        boost_lines.append(
            _("waiting: +%(step)s every %(t)s, at most +%(max)s")
            % {"step": aging["step"], "t": seconds(aging.get("every", 60), _), "max": aging.get("max", 0)}
        )  # fmt: skip
    if trace_:
        boost_lines.append(
            _("sample: %(base)s + %(boost)s = priority %(total)s")
            % {"base": trace_.base_priority, "boost": sum(applied.values()), "total": trace_.priority}
        )  # fmt: skip
    h = len(boost_lines) * LINE + 12
    nodes.append(
        Node("boosts", "boosts", SIDE_X, sy, SIDE_W, h,
             tuple(clip(t, SIDE_W - 16) for t in boost_lines), full="\n".join(boost_lines),
             state="applied" if applied else "")
    )  # fmt: skip
    sy += h + ROW_GAP

    height = max(rules_bottom, qy, sy) + 4
    headings = (
        (RULE_X, _("Rules, in order")),
        (TARGET_X, _("Targets, in turn")),
        (QUEUE_X, _("Queues and their agents")),
        (SIDE_X, _("Hours and priority")),
    )
    return Diagram(WIDTH, height, tuple(nodes), tuple(edges), headings)


def _straight(x1: int, y: int, x2: int) -> str:
    return f"M{x1},{y} L{x2 - 2},{y}"


def _curve(x1: int, y1: int, x2: int, y2: int) -> str:
    mid = (x1 + x2) // 2
    return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 2},{y2}"
