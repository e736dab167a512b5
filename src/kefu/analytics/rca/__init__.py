"""Multi-dimensional root-cause localisation (issue #16).

Given the leaves of a metric at an anomalous time (every combination of dimension values, with
its actual and forecast value), find the set of elements (dimension=value combinations at any
layer) that explains the change. See :mod:`kefu.analytics.rca.search` for the method and
docs/analytics-insights.md for the figures.
"""

from kefu.analytics.rca.instance import Instance, format_causes, parse_causes, read_instance
from kefu.analytics.rca.search import Cause, localise

__all__ = ["Cause", "Instance", "format_causes", "localise", "parse_causes", "read_instance"]
