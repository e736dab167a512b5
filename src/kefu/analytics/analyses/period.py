"""Which events an analysis reads: one site, a range of days — and, for a topic (专题), only
the sessions that touched the topic's pages or events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Period:
    site: str
    since: date
    until: date  # inclusive
    # A topic's scope: page paths (a trailing * is a prefix) and custom event names. Every
    # analysis then reads the sessions that viewed one of those pages or sent one of those
    # events — the same statements, one more condition (`where`), so a topic has every view.
    pages: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    @classmethod
    def last(cls, site: str, days: int, today: date | None = None) -> Period:
        end = today or date.today()
        return cls(site, end - timedelta(days=days - 1), end)

    def within(self, pages: tuple[str, ...] = (), events: tuple[str, ...] = ()) -> Period:
        return replace(self, pages=tuple(pages), events=tuple(events))

    def _exact(self) -> list[str]:
        return [p for p in self.pages if not p.endswith("*")]

    def _prefixes(self) -> list[str]:
        escaped = (p[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                   for p in self.pages if p.endswith("*"))  # fmt: skip
        return [e + "%" for e in escaped]

    def where(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        base = f"{prefix}site = ? AND {prefix}day BETWEEN ? AND ?"
        if not (self.pages or self.events):
            return base
        touched = []
        if self._exact():
            touched.append(f"t_.path IN ({', '.join('?' for _ in self._exact())})")
        touched += ["t_.path LIKE ? ESCAPE '\\'" for _ in self._prefixes()]
        if self.events:
            marks = ", ".join("?" for _ in self.events)
            touched.append(f"(t_.type = 'custom' AND t_.target IN ({marks}))")
        return (
            f"{base} AND {prefix}session_id IN (SELECT t_.session_id FROM events t_ WHERE "
            f"t_.site = ? AND t_.day BETWEEN ? AND ? AND ({' OR '.join(touched)}))"
        )

    def params(self) -> list[Any]:
        base: list[Any] = [self.site, self.since, self.until]
        if not (self.pages or self.events):
            return base
        return [*base, *base, *self._exact(), *self._prefixes(), *self.events]
