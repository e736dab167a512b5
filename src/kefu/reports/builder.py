"""The report builder's query: measures × dimensions × filters × period, validated at the
edge so an unknown field is a 422 that names it and the known ones, and a period stays
within what the rollup answers quickly."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator, model_validator

from kefu.reports import kpis

MAX_DAYS = 400  # a year and then some; beyond, ask for months in two reports
MAX_DIMENSIONS = 3


class ReportSpec(BaseModel):
    model_config = {"extra": "forbid"}

    measures: list[str] = Field(min_length=1, max_length=12)
    dimensions: list[str] = Field(default_factory=list, max_length=MAX_DIMENSIONS)
    filters: dict[str, str] = Field(default_factory=dict)
    start: date
    end: date  # inclusive: the last local day shown
    chart: Literal["table", "bar", "line"] = "table"

    @field_validator("measures")
    @classmethod
    def _measures(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in kpis.MEASURES]
        if unknown:
            raise ValueError(
                f"unknown measure {', '.join(unknown)}; known: {', '.join(kpis.MEASURES)}"
            )
        return list(dict.fromkeys(value))

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in kpis.DIMENSIONS]
        if unknown:
            raise ValueError(
                f"unknown dimension {', '.join(unknown)}; known: {', '.join(kpis.DIMENSIONS)}"
            )
        if len([d for d in value if d in kpis.TIME_DIMENSIONS]) > 1:
            raise ValueError("at most one time dimension (hour, day, week or month)")
        return list(dict.fromkeys(value))

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [f for f in value if f not in kpis.FILTERS]
        if unknown:
            raise ValueError(
                f"unknown filter {', '.join(unknown)}; known: {', '.join(kpis.FILTERS)}"
            )
        if "agent" in value and not value["agent"].isdigit():
            raise ValueError("filter agent: an agent's number")
        if any(len(v) > 64 for v in value.values()):
            raise ValueError("a filter value is at most 64 characters")
        return value

    @model_validator(mode="after")
    def _period(self) -> ReportSpec:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise ValueError(f"the period is at most {MAX_DAYS} days")
        return self

    def query(self, zone: ZoneInfo) -> kpis.Query:
        start = datetime.combine(self.start, time(), zone)
        end = datetime.combine(self.end + timedelta(days=1), time(), zone)
        filters: dict[str, str | int] = {
            k: int(v) if k == "agent" else v for k, v in self.filters.items()
        }
        return kpis.Query(start, end, self.measures, self.dimensions, filters)
