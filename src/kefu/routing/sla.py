"""SLA clocks on business-hour calendars.

Elapsed SLA time = business seconds between enqueueing and now, minus the business seconds the
conversation spent waiting on the customer (those accumulate in ``sla_paused_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kefu.routing.rules import WEEKDAYS, CalendarSpec, SlaSpec


def business_seconds(start: datetime, end: datetime, calendar: CalendarSpec | None) -> float:
    """Seconds of ``[start, end)`` inside the calendar's opening hours (all of it when None)."""
    if end <= start:
        return 0.0
    if calendar is None:
        return (end - start).total_seconds()
    zone = ZoneInfo(calendar.timezone)
    holidays = set(calendar.holidays)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    total = 0.0
    day = local_start.date()
    # Walk day by day; SLA windows are hours to days, so this loop is short.
    while day <= local_end.date():
        hours = calendar.hours.get(WEEKDAYS[day.weekday()])  # type: ignore[call-overload]
        if hours is not None and day.isoformat() not in holidays:
            opens = datetime.combine(day, hours[0], zone)
            closes = datetime.combine(day, hours[1], zone)
            lo, hi = max(opens, local_start), min(closes, local_end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class Clock:
    name: str  # first_response, resolution
    target: int
    elapsed: float
    done: bool

    @property
    def breached(self) -> bool:
        return self.elapsed > self.target

    @property
    def remaining(self) -> float:
        return self.target - self.elapsed


def clocks(
    *,
    sla: SlaSpec,
    calendar: CalendarSpec | None,
    enqueued_at: datetime,
    now: datetime,
    first_response_at: datetime | None,
    paused_seconds: int,
    paused_at: datetime | None,
) -> list[Clock]:
    """The running (or stopped) SLA clocks of one conversation."""
    paused = paused_seconds + (business_seconds(paused_at, now, calendar) if paused_at else 0)
    result: list[Clock] = []
    if sla.first_response:
        stop = first_response_at or now
        elapsed = max(0.0, business_seconds(enqueued_at, stop, calendar) - paused)
        result.append(
            Clock("first_response", sla.first_response, elapsed, first_response_at is not None)
        )
    if sla.resolution:
        elapsed = max(0.0, business_seconds(enqueued_at, now, calendar) - paused)
        result.append(Clock("resolution", sla.resolution, elapsed, False))
    return result


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
