"""The standard analyses find the facts planted in a small generated month, and each agrees
with a count done another way on the same events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.analytics.analyses import (
    Period,
    campaigns,
    failures,
    forms,
    funnel,
    paths,
    selfservice,
    traffic,
)
from kefu.analytics.generate import GOAL
from kefu.analytics.store import DuckDBStore
from tests.analytics.conftest import TODAY

P = Period("demo-bank", TODAY - timedelta(days=29), TODAY)
B = "/demo/bank"


def test_two_campaigns_with_opposite_roi(month: DuckDBStore) -> None:
    rows = {r["campaign"]: r for r in campaigns.campaigns(month, P, GOAL)}
    spring, banner = rows["spring-card"], rows["wealth-banner"]
    assert spring["conversion_rate"] > 5 * banner["conversion_rate"]
    assert spring["roi"] > 0 > banner["roi"]
    assert spring["cpa"] < banner["cpa"]
    # cost per acquisition is the entered cost over the conversions
    assert spring["cpa"] == pytest.approx(spring["cost"] / spring["conversions"])
    month.set_campaign_cost("spring-card", 1.0, 0.0)  # the analyst's entry replaces the cost
    try:
        again = {r["campaign"]: r for r in campaigns.campaigns(month, P, GOAL)}
        assert again["spring-card"]["roi"] == -1.0
    finally:
        month.set_campaign_cost("spring-card", 6000.0, 300.0)


def test_the_page_broken_on_one_browser_version_is_flagged_and_nothing_else(
    month: DuckDBStore,
) -> None:
    flagged = failures.failing_versions(month, P, "browser")
    assert [(f["page"], f["browser"], f["version"]) for f in flagged] == [
        (f"{B}/cards/apply", "Chrome", "122")
    ]
    assert flagged[0]["rate"] > 0.5 > 0.1 > flagged[0]["baseline"]
    assert failures.failing_versions(month, P, "os") == []  # Windows 10 as a whole is fine
    links = failures.broken_links(month, P)
    assert links[0]["url"] == f"{B}/api/card-apply/rates" and links[0]["status"] == 500


def test_the_form_step_where_most_abandon_is_the_sms_code(month: DuckDBStore) -> None:
    fields = forms.field_dropoff(month, P, "transfer")
    assert [f["field"] for f in fields] == [
        "payee_name", "payee_account", "amount", "remark", "sms_code"
    ]  # fmt: skip
    worst = max(fields, key=lambda f: f["dropoff"])
    assert worst["field"] == "sms_code" and worst["dropoff"] > 0.4
    listed = {f["form"]: f for f in forms.forms(month, P)}
    t = listed["transfer"]
    assert t["submitted"] + t["abandoned"] == t["started"]


def test_funnel_counts_fall_step_by_step_and_the_window_matters(month: DuckDBStore) -> None:
    steps = [f"{B}/transfer", f"{B}/transfer/confirm", f"{B}/transfer/verify",
             f"{B}/transfer/done"]  # fmt: skip
    rows = funnel.funnel(month, P, steps, 60)
    counts = [r["visitors"] for r in rows]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    assert rows[3]["of_previous"] < 0.6  # the SMS step
    # done pages are reached minutes after the first step: a 1-minute window loses most
    assert funnel.funnel(month, P, steps, 1)[3]["visitors"] < counts[-1]
    # with a window of the whole month: every visitor who reached the done page, counted
    # straight from the events (each got there through the steps, in order)
    (direct,) = month.query(
        "SELECT count(DISTINCT visitor_id) FROM events WHERE type = 'pageview' AND path = ?",
        [steps[-1]],
    )[0]
    assert funnel.funnel(month, P, steps, 30 * 24 * 60)[3]["visitors"] == direct >= counts[-1]
    campaign_only = funnel.funnel(month, P, [f"{B}/cards/apply", GOAL], 60, "spring-card")
    assert 0 < campaign_only[1]["visitors"] <= campaign_only[0]["visitors"]


def test_paths_after_and_before_a_page(month: DuckDBStore) -> None:
    after = paths.paths(month, P, f"{B}/accounts", "after", 2)
    first = {link["target"]: link["value"] for link in after["links"]
             if link["source"] == f"{B}/accounts"}  # fmt: skip
    assert max(first, key=first.get) == f"+1 {B}/transfer"
    before = paths.paths(month, P, f"{B}/help", "before", 2)
    sources = {link["source"] for link in before["links"] if link["target"] == f"{B}/help"}
    assert f"-1 {B}/transfer/verify" in sources  # abandoned the SMS step, looked for help
    names = {n["name"] for n in after["nodes"]}
    assert all(link["source"] in names and link["target"] in names for link in after["links"])


def test_traffic_sources_and_visitors(month: DuckDBStore) -> None:
    channels = dict(traffic.breakdown(month, P, "channel"))
    assert {"direct", "search", "social", "paid", "campaign"} <= set(channels)
    (sessions,) = month.query("SELECT count(DISTINCT session_id) FROM events")[0]
    assert sum(channels.values()) == sessions
    nvr = traffic.new_vs_returning(month, P)
    (visitors,) = month.query("SELECT count(DISTINCT visitor_id) FROM events")[0]
    assert nvr["new"] == visitors and nvr["returning"] == sessions - visitors
    assert sum(d["sessions"] for d in traffic.daily(month, P)) >= sessions
    with pytest.raises(ValueError):
        traffic.breakdown(month, P, "path; DROP TABLE events")


def test_self_service_tasks(month: DuckDBStore) -> None:
    rows = {r["task"]: r for r in selfservice.tasks(month, P)}
    assert rows["card_activate"]["completion_rate"] > 0.6 > rows["transfer"]["completion_rate"]
    assert rows["transfer"]["abandoned_to_help"] > 0
