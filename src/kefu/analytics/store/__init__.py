"""The event store behind one interface (:class:`EventStore`); DuckDB is the embedded default."""

from kefu.analytics.store.base import COLUMNS, EventStore
from kefu.analytics.store.duckdb import DuckDBStore

__all__ = ["COLUMNS", "DuckDBStore", "EventStore"]
