"""Which events an analysis reads: one site, a range of days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Period:
    site: str
    since: date
    until: date  # inclusive

    @classmethod
    def last(cls, site: str, days: int, today: date | None = None) -> Period:
        end = today or date.today()
        return cls(site, end - timedelta(days=days - 1), end)

    def where(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return f"{prefix}site = ? AND {prefix}day BETWEEN ? AND ?"

    def params(self) -> list[Any]:
        return [self.site, self.since, self.until]
