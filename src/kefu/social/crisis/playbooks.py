"""Playbooks (预案) per crisis type: which terms they cover, the scripts (话术) for a public
comment and a private message, whether a public statement needs a second person's approval,
and who is told when it escalates. Kept as YAML in this package (one file each) so the desk's
owners can edit them without a release of code; ``general`` is the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from kefu.social.crisis.models import ESCALATION_TEAMS

DIRECTORY = Path(__file__).parent / "playbooks"
FALLBACK = "general"


class PlaybookError(ValueError):
    """A playbook file that does not say what it must (names the file and the field)."""


@dataclass(frozen=True)
class Playbook:
    name: str
    title: str
    terms: tuple[str, ...]
    public_script: str
    private_script: str
    public_needs_approval: bool
    notify: tuple[str, ...]

    def matches(self, term: str) -> bool:
        return any(t and (t in term or term in t) for t in self.terms)

    def script(self, mode: str) -> str:
        return self.public_script if mode == "comment" else self.private_script

    def needs_approval(self, mode: str) -> bool:
        """Only a public statement may need one: a private message answers one person."""
        return mode == "comment" and self.public_needs_approval


def parse(text: str, source: str) -> Playbook:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise PlaybookError(f"{source}: a mapping of name, title, terms, scripts is expected")

    def field(name: str, kind: type) -> object:
        value = data.get(name)
        if not isinstance(value, kind):
            raise PlaybookError(f"{source}: {name} must be a {kind.__name__}")
        return value

    terms = field("terms", list)
    notify = field("notify", list)
    if not all(isinstance(t, str) for t in terms):  # type: ignore[attr-defined]
        raise PlaybookError(f"{source}: terms must be strings")
    unknown = [n for n in notify if n not in ESCALATION_TEAMS]  # type: ignore[attr-defined]
    if unknown:
        raise PlaybookError(f"{source}: notify: {unknown} not among {list(ESCALATION_TEAMS)}")
    return Playbook(
        name=str(field("name", str)),
        title=str(field("title", str)),
        terms=tuple(terms),  # type: ignore[arg-type]
        public_script=str(field("public_script", str)).strip(),
        private_script=str(field("private_script", str)).strip(),
        public_needs_approval=bool(field("public_needs_approval", bool)),
        notify=tuple(notify),  # type: ignore[arg-type]
    )


@cache
def load_all(directory: Path = DIRECTORY) -> dict[str, Playbook]:
    books = {}
    for path in sorted(directory.glob("*.yaml")):
        book = parse(path.read_text(encoding="utf-8"), path.name)
        books[book.name] = book
    if FALLBACK not in books:
        raise PlaybookError(f"{directory}: the {FALLBACK} playbook is missing")
    return books


def for_term(term: str, books: dict[str, Playbook] | None = None) -> Playbook:
    """The first playbook (by name) whose terms cover ``term``, else the general one."""
    return for_terms([term], books)


def for_terms(terms: list[str], books: dict[str, Playbook] | None = None) -> Playbook:
    """The first playbook (by name) whose terms cover any of ``terms`` (an alert's term and
    its related ones, a board topic's two), else the general one."""
    books = books or load_all()
    for name in sorted(books):
        if name != FALLBACK and any(books[name].matches(t) for t in terms):
            return books[name]
    return books[FALLBACK]
