"""Topics (专题): the analyses scoped to the sessions that touched a topic's pages or events
(one more condition on the same statements), the form's checks, and end to end: added and
removed by ``reports.build``, viewed with ``reports.read``."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from kefu.analytics import topics
from kefu.analytics.analyses import Period, traffic
from kefu.analytics.generate import generate
from kefu.analytics.service import analytics_of
from kefu.analytics.store import DuckDBStore
from tests.analytics.conftest import TODAY
from tests.conftest import CSRF, login


def test_a_topic_scopes_every_analysis_to_its_sessions(month: DuckDBStore) -> None:
    whole = Period.last("demo-bank", 30, TODAY)
    cards = whole.within(("/demo/bank/cards/*",))
    touched = {r[0] for r in month.query(
        f"SELECT DISTINCT session_id FROM events WHERE {whole.where()} AND path LIKE ?",
        [*whole.params(), "/demo/bank/cards/%"])}  # fmt: skip
    by_channel = traffic.breakdown(month, cards, "channel")
    assert sum(n for _, n in by_channel) == len(touched) > 0
    assert sum(n for _, n in traffic.breakdown(month, whole, "channel")) > len(touched)
    pages = {p for p, _, _ in traffic.top_pages(month, cards)}
    assert "/demo/bank/cards/apply" in pages
    # an exact page, and a custom event nobody sent: only the page's sessions
    exact = whole.within(("/demo/bank/wealth",), ("never-sent",))
    wealth = {r[0] for r in month.query(
        f"SELECT DISTINCT session_id FROM events WHERE {whole.where()} AND path = ?",
        [*whole.params(), "/demo/bank/wealth"])}  # fmt: skip
    assert sum(n for _, n in traffic.breakdown(month, exact, "channel")) == len(wealth)
    # a LIKE wildcard in a prefix is a literal character, not "anything"
    assert traffic.breakdown(month, whole.within(("/demo/bank/%*",)), "channel") == []


@pytest.mark.parametrize(
    ("name", "pages", "events", "said"),
    [  # "said": what the message (Chinese or English, by locale) must contain
        ("", "/a", "", "80"),
        ("x" * 81, "/a", "", "80"),
        ("t", "", "", ""),
        ("t", "demo/bank", "", "demo/bank"),
        ("t", "/a*/b", "", "/a*/b"),
        ("t", "\n".join(f"/p{i}" for i in range(51)), "", "50"),
        ("t", "/a", "e" * 201, "200"),
    ],
)
def test_topic_form_is_checked(name: str, pages: str, events: str, said: str) -> None:
    with pytest.raises(topics.TopicError) as refused:
        topics.parse("demo-bank", name, "", pages, events)
    assert str(refused.value) and said in str(refused.value)


def test_topic_lines_are_trimmed_and_deduplicated() -> None:
    t = topics.parse("demo-bank", " 信用卡 ", "", "/demo/bank/cards/*, /demo/bank/cards/*\n\n/x",
                     "apply-click")  # fmt: skip
    assert (t.name, t.pages, t.events) == ("信用卡", ("/demo/bank/cards/*", "/x"), ("apply-click",))


def topics_end_to_end(client: TestClient) -> None:
    """Run by tests/analytics/test_end_to_end.py (one seeded database per backend)."""
    client.cookies.clear()
    generate(analytics_of(client.app).store, 30, 300, seed=5)
    login(client, "analyst")
    page = client.get("/analytics/topics")
    assert page.status_code == 200
    csrf = CSRF.search(page.text).group(1)
    bad = client.post("/analytics/topics", data={"name": "信用卡", "pages": "cards", "csrf": csrf})
    assert bad.status_code == 422 and "cards" in bad.text  # said, and what was typed is kept
    made = client.post("/analytics/topics", follow_redirects=False, data={
        "name": "信用卡", "pages": "/demo/bank/cards/*", "description": "<b>申卡</b>",
        "csrf": csrf})  # fmt: skip
    assert made.status_code == 303
    url = made.headers["location"]
    topic_id = int(re.search(r"/(\d+)$", url).group(1))
    shown = client.get(url)
    assert shown.status_code == 200 and "&lt;b&gt;申卡&lt;/b&gt;" in shown.text
    assert "/demo/bank/cards/apply" in shown.text and "chart-topic-channels" in shown.text
    data = client.get(f"/api/v1/analytics/topics/{topic_id}").json()
    assert data["sessions"] > 0 and {f["form"] for f in data["forms"]} == {"card_apply"}
    again = client.post("/analytics/topics", data={"name": "信用卡", "pages": "/x", "csrf": csrf})
    assert again.status_code == 422
    assert [t["name"] for t in client.get("/api/v1/analytics/topics").json()] == ["信用卡"]

    client.cookies.clear()
    login(client, "supervisor")  # reads and builds reports
    assert client.get(url).status_code == 200
    client.cookies.clear()
    login(client, "agent1")
    assert client.get(url).status_code == 403
    client.cookies.clear()
    login(client, "analyst")
    csrf = CSRF.search(client.get("/analytics/topics").text).group(1)
    gone = client.post(f"/analytics/topics/{topic_id}/delete", data={"csrf": csrf},
                       follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303 and client.get(url).status_code == 404
    assert (
        client.post(f"/analytics/topics/{topic_id}/delete", data={"csrf": csrf}).status_code == 404
    )
