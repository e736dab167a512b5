"""The package rules of docs/architecture.md (DESIGN's table), checked on the import
statements of src/kefu: a forbidden import fails here with the file and line.

``KNOWN`` lists the imports that break a rule today and are still to be moved out (each with
where it should go); it may only shrink: an entry no longer found fails too, so a fix is
recorded by deleting its line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "kefu"
ALL = frozenset(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())

# package (or "channels.<name>" for every channel) → packages it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    "protocols": ALL - {"protocols"},
    "channels.*": frozenset(
        {"assistant", "bank", "routing", "partners", "subscriptions", "outbound"}
    ),
    "messaging": frozenset({"channels"}),
    "language": frozenset({"db", "web"}),
    "assistant": frozenset({"channels", "protocols"}),
    "hall": frozenset({"protocols", "channels"}),
    "subscriptions": frozenset({"channels"}),
    "outbound": frozenset({"channels"}),
    "webhooks": frozenset({"channels", "routing"}),
    "knowledge": frozenset({"channels"}),
    "conversations": frozenset({"channels"}),
    "routing": frozenset({"channels"}),
    "bank": frozenset({"web"}),
    "workspace": frozenset({"protocols"}),
    "branch": frozenset({"protocols"}),
    "reports": frozenset({"protocols"}),
    # Cross-selling reads the bank port and the message contract; campaigns send through the
    # governed outbound, never a channel or a wire protocol directly.
    "crosssell": frozenset({"protocols", "channels"}),
    # CSAT, quality inspection and retention reach customers through the message contract and
    # read channels' stored copies by table name, never their code.
    "quality": frozenset({"protocols", "channels"}),
    "retention": frozenset({"protocols", "channels"}),
    # Social media's business (listening, analysis, the crisis desk) reads posts through the
    # message contract; which platform carried them is the channels' business.
    "social": frozenset({"protocols", "channels"}),
    # Behaviour analytics reads web and app events, not messages: no channel, no protocol.
    "analytics": frozenset({"protocols", "channels"}),
}
# Web chat is the proof that a channel needs nothing but the message contract and plumbing.
WEBCHAT_MAY_IMPORT = frozenset(
    {"channels", "messaging", "db", "web", "config", "vocabulary", "logs", "privacy",
     "cli_support"}
)  # fmt: skip

# (file under src/kefu, package it imports): to be moved out, see the comment on each.
KNOWN: frozenset[tuple[str, str]] = frozenset(
    {
        # Governed outbound (the send API, the policy, consent) and the subscription scheduler
        # still use the SMS channel's own rows and types (the outbox's rows for idempotent
        # retries, status reads, frequency caps and the scheduler's counts, OutboundSms,
        # number helpers): they should send kefu.messaging.OutboundMessages
        # through a port each channel implements.
        ("outbound/api.py", "channels"),
        ("outbound/consent.py", "channels"),
        ("outbound/policy.py", "channels"),
        ("subscriptions/cli.py", "channels"),
        ("subscriptions/scheduler.py", "channels"),
    }
)


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    if parts[0] == "channels" and len(parts) > 2:
        return "channels.*"
    return parts[0].removesuffix(".py")


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, first package under kefu) of every absolute kefu import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name == "kefu" or name.startswith("kefu."):
                parts = name.split(".")
                yield node.lineno, parts[1] if len(parts) > 1 else "kefu"


def _violations() -> tuple[list[str], set[tuple[str, str]]]:
    found, known_seen = [], set()
    for path in sorted(SRC.rglob("*.py")):
        rule = FORBIDDEN.get(_package(path), frozenset())
        rel = path.relative_to(SRC).as_posix()
        for line, target in imports(path):
            if target not in rule:
                continue
            if (rel, target) in KNOWN:
                known_seen.add((rel, target))
                continue
            found.append(f"{rel}:{line} imports kefu.{target}")
    return found, known_seen


def test_no_package_imports_what_its_rule_forbids() -> None:
    found, _ = _violations()
    assert not found, "forbidden imports (docs/architecture.md, package rules):\n" + "\n".join(
        found
    )


def test_known_exceptions_are_still_there() -> None:
    """A known exception that was fixed must leave KNOWN (the list only shrinks)."""
    _, seen = _violations()
    assert sorted(KNOWN - seen) == []


def test_webchat_imports_only_the_contract_and_plumbing() -> None:
    webchat = SRC / "channels" / "webchat"
    extra = sorted(
        f"{p.relative_to(SRC).as_posix()}:{line} imports kefu.{target}"
        for p in webchat.rglob("*.py")
        for line, target in imports(p)
        if target not in WEBCHAT_MAY_IMPORT
    )
    assert extra == []


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The scanner itself: a channel module importing the bank is reported."""
    module = tmp_path / "m.py"
    module.write_text("from kefu.bank.port import BankPort\nimport kefu.routing.intake\n")
    assert list(imports(module)) == [(1, "bank"), (2, "routing")]


@pytest.mark.parametrize(
    "module",
    ["kefu.routing.views", "kefu.workspace.inbox", "kefu.db.engine", "kefu.messaging.pipeline",
     "kefu.hall.h5.views", "kefu.channels.sms.gateway", "kefu.channels.webchat.views",
     "kefu.config"],
)  # fmt: skip
def test_each_module_imports_first(module: str) -> None:
    """No import loop hides behind the usual order: the settings are assembled from the
    channel manifests, so a manifest that pulls in the pipeline or the database would loop."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
