"""Anomalies end to end on generated traffic: a planted incident (one campaign's card
applications fail on one browser version) is detected and its top cause is that campaign on
that browser; the seasonal baseline keeps quiet days quiet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from kefu.analytics import anomalies
from kefu.analytics.analyses.period import Period
from kefu.analytics.generate import GOAL, generate
from kefu.analytics.store import DuckDBStore

TODAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def incident() -> Iterator[DuckDBStore]:
    s = DuckDBStore(":memory:", threads=1)
    generate(s, 21, 2000, today=TODAY, seed=3)
    anomalies.plant_conversion_drop(
        s, TODAY, campaign="spring-card", browser="Chrome", version="123", sessions=200
    )
    yield s
    s.close()


def test_planted_incident_is_detected_and_explained(incident: DuckDBStore) -> None:
    period = Period("demo-bank", TODAY - timedelta(days=6), TODAY)
    found = {(a.metric, a.day) for a in anomalies.detect(incident, period, GOAL)}
    assert ("task_completion", TODAY) in found
    # the six quiet days before it raise nothing on task completion or conversion
    assert not {m for m, d in found if d < TODAY} & {"task_completion", "conversion"}
    for metric in ("task_completion", "conversion"):
        top = anomalies.explain(incident, period, metric, TODAY, GOAL)[0]
        assert top.text == "browser=Chrome 123&campaign=spring-card", metric
        assert top.share > 0.5


def test_series_has_a_band_and_refuses_unknown_metrics(incident: DuckDBStore) -> None:
    period = Period("demo-bank", TODAY - timedelta(days=2), TODAY)
    points = anomalies.series(incident, period, "traffic", GOAL)
    assert [p.day for p in points] == [TODAY - timedelta(days=k) for k in (2, 1, 0)]
    assert all(p.low is not None and p.low < p.forecast < p.high for p in points)  # type: ignore[operator]
    with pytest.raises(ValueError, match="unknown metric"):
        anomalies.series(incident, period, "bounce", GOAL)
    with pytest.raises(ValueError, match="unknown campaign"):
        anomalies.plant_conversion_drop(
            incident, TODAY, campaign="x", browser="Chrome", version="123", sessions=1
        )
