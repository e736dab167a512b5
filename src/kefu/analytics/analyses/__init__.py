"""The standard analyses, each a function over an :class:`~kefu.analytics.store.EventStore`
and a :class:`Period`; each runs one SQL statement (DuckDB's dialect, which ClickHouse's
differs from only where noted) so its cost is the engine's, not Python's."""

from kefu.analytics.analyses.period import Period

__all__ = ["Period"]
