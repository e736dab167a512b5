"""The events table every store keeps, and the interface the collector and analyses use.

One wide table, one row per event: analytic engines (DuckDB, ClickHouse) read only the
columns a query names, so a wide table costs nothing for the columns left empty, and every
analysis is one scan without joins. Rows are kept in arrival order and carry their ``day``,
the unit of retention (``drop_before``) and of ClickHouse's partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

# name → DuckDB type. The collector fills them in this order.
COLUMNS: dict[str, str] = {
    "event_id": "VARCHAR",
    "site": "VARCHAR",
    "ts": "TIMESTAMP",  # UTC
    "day": "DATE",
    "type": "VARCHAR",  # pageview, click, form_start, form_field, form_submit, form_abandon,
    # error, http_error, vital, scroll, custom
    "session_id": "VARCHAR",
    "visitor_id": "VARCHAR",
    "customer_hash": "VARCHAR",  # HMAC of the bank's customer number (never the number)
    "path": "VARCHAR",  # URL path, PII masked
    "query": "VARCHAR",  # query string without utm_*, PII masked
    "referrer": "VARCHAR",  # host only
    "channel": "VARCHAR",  # direct, search, social, referral, campaign, paid, app
    "utm_source": "VARCHAR",
    "utm_medium": "VARCHAR",
    "utm_campaign": "VARCHAR",
    "target": "VARCHAR",  # clicked element path, form name, failed URL, vital name
    "field": "VARCHAR",  # form field name (never its value)
    "status": "INTEGER",  # HTTP status of a failed request
    "value": "DOUBLE",  # a vital's milliseconds, scroll depth %
    "props": "VARCHAR",  # JSON of the remaining properties, PII masked
    "browser": "VARCHAR",
    "browser_version": "VARCHAR",  # major version
    "os": "VARCHAR",
    "os_version": "VARCHAR",
    "device": "VARCHAR",  # desktop, mobile, tablet
    "region": "VARCHAR",
    "app": "VARCHAR",  # web, or the native app's name
}


class StoreClosed(RuntimeError):
    """The store was closed (the process is shutting down) before or during this call."""


class EventStore(Protocol):
    """What the collector writes to and the analyses read from."""

    def insert(self, columns: dict[str, Sequence[Any]]) -> int:
        """Append rows given column by column (every name of ``COLUMNS``); returns the count."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query over ``events`` (and ``campaign_costs``)."""
        ...

    def drop_before(self, day: date) -> int:
        """Retention: delete the days before ``day``; returns the rows deleted."""
        ...

    def purge_before(
        self, day: date, keep_customers: Sequence[str] = (), *, dry_run: bool = False
    ) -> tuple[int, int]:
        """Retention under legal holds: deletes (with ``dry_run`` only counts) the rows of the
        days before ``day`` except the held ones — those of visitors who ever carried one of
        ``keep_customers`` (customer hashes), so a held customer's visits before signing in
        on the same device stay too. Returns (rows due, rows held)."""
        ...

    def set_campaign_cost(
        self, campaign: str, cost: float, value_per_conversion: float
    ) -> None: ...

    def campaign_costs(self) -> dict[str, tuple[float, float]]:
        """campaign → (cost, value of one conversion), as the analyst entered them."""
        ...

    def close(self) -> None: ...


def held_clause(values: str) -> str:
    """The SQL condition of a held row, ``values`` the list of held customer hashes (``?``
    marks, or literals); DuckDB and ClickHouse read it alike."""
    return (f"(customer_hash IN ({values}) OR visitor_id IN (SELECT DISTINCT visitor_id "
            f"FROM events WHERE customer_hash IN ({values})))")  # fmt: skip
