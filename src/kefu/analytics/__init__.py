"""E-channel behaviour analytics (issue 15): the tracker the bank's pages load, the collector
that validates, enriches and masks what it sends, the event store (DuckDB embedded), the
standard analyses and their pages, and the demo bank site with a traffic generator."""
