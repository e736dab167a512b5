"""The ClickHouse event store: the same generated month in DuckDB and in ClickHouse's engine
(chDB, in-process) gives every analysis the same answer; retention drops whole days.

chDB is not in the dev extras (a 181 MB wheel, ~890 MB installed, over two minutes to install
here): these tests skip, saying so, unless it is installed (``pip install chdb``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from kefu.analytics.analyses import (
    Period,
    campaigns,
    failures,
    forms,
    funnel,
    paths,
    selfservice,
    sessions,
    traffic,
)
from kefu.analytics.generate import generate
from kefu.analytics.store import DuckDBStore
from kefu.analytics.store.clickhouse import ClickHouseStore, to_clickhouse
from tests.analytics.conftest import TODAY

HAVE_CHDB = all(importlib.util.find_spec(m) for m in ("chdb", "clickhouse_connect"))
needs_chdb = pytest.mark.skipif(
    not HAVE_CHDB, reason="chDB or clickhouse-connect not installed (chDB: 181 MB wheel, not in "
    "the dev extras; pip install chdb clickhouse-connect to run)",
)  # fmt: skip


def test_the_dialect_rewrite() -> None:
    sql = ("SELECT arg_min(path, ts), bool_or(path LIKE '%/help%') FROM events "
           "WHERE site = ? AND path LIKE ? ESCAPE '\\' AND target = 'a?b'")  # fmt: skip
    assert to_clickhouse(sql) == (
        "SELECT argMin(path, ts), max(path LIKE '%%/help%%') FROM events "
        "WHERE site = %s AND path LIKE %s AND target = 'a?b'"
    )
    assert to_clickhouse("SELECT count(*) FROM events WHERE x LIKE '%a'", bind=False) == (
        "SELECT count(*) FROM events WHERE x LIKE '%a'"
    )


@pytest.fixture(scope="module")
def both() -> Iterator[tuple[DuckDBStore, ClickHouseStore]]:
    from tests.analytics.chdb_client import ChdbClient

    duck = DuckDBStore(":memory:", threads=1)
    house = ClickHouseStore(ChdbClient())
    for store in (duck, house):
        generate(store, 30, 400, today=TODAY, seed=3)
    yield duck, house
    duck.close()
    house.close()


P = Period.last("demo-bank", 30, TODAY)
ANALYSES: dict[str, Callable[[Any], Any]] = {
    "daily": lambda s: traffic.daily(s, P),
    "sources": lambda s: [traffic.breakdown(s, P, k) for k in ("channel", "referrer", "utm_campaign")],
    "sources_x_device": lambda s: traffic.sources_by_device(s, P),
    "new_vs_returning": lambda s: traffic.new_vs_returning(s, P),
    "top_pages": lambda s: traffic.top_pages(s, P),
    "funnel": lambda s: funnel.funnel(s, P, ["/demo/bank/", "/demo/bank/login",
                                             "/demo/bank/accounts", "/demo/bank/transfer"], 60),
    "funnel_campaign": lambda s: funnel.funnel(s, P, ["/demo/bank/cards/apply",
                                                      "/demo/bank/cards/apply/done"], 60, "spring-card"),
    "paths_after": lambda s: paths.paths(s, P, "/demo/bank/accounts"),
    "paths_before": lambda s: paths.paths(s, P, "/demo/bank/transfer", "before"),
    "forms": lambda s: forms.forms(s, P),
    "fields": lambda s: forms.field_dropoff(s, P, "transfer"),
    "clicks": lambda s: forms.clicks(s, P, "/demo/bank/"),
    "failing": lambda s: [failures.failing_versions(s, P, "browser"),
                          failures.failing_versions(s, P, "os")],
    "broken_links": lambda s: failures.broken_links(s, P),
    "error_rate": lambda s: failures.error_rate_by_browser_os(s, P),
    "campaigns": lambda s: campaigns.campaigns(s, P, "/demo/bank/cards/apply/done"),
    "selfservice": lambda s: selfservice.tasks(s, P),
    "topic": lambda s: traffic.breakdown(s, P.within(("/demo/bank/cards/*",)), "channel"),
    "dropoff_sessions": lambda s: sorted(sessions.matching(
        s, P, reached="/demo/bank/transfer/verify", missed="/demo/bank/transfer/done")),
}  # fmt: skip


@needs_chdb
@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_every_analysis_answers_alike(both: tuple[DuckDBStore, ClickHouseStore], name: str) -> None:
    duck, house = both
    expected = ANALYSES[name](duck)
    assert expected  # a non-empty answer, so the comparison means something
    assert ANALYSES[name](house) == expected


@needs_chdb
def test_costs_and_retention(both: tuple[DuckDBStore, ClickHouseStore]) -> None:
    duck, house = both
    house.set_campaign_cost("spring-card", 100.0, 5.0)
    house.set_campaign_cost("spring-card", 200.0, 6.0)  # the latest wins
    assert house.campaign_costs()["spring-card"] == (200.0, 6.0)
    cut = TODAY - timedelta(days=10)
    before = house.count()
    old = house.query("SELECT count() FROM events WHERE day < ?", [cut])[0][0]
    assert old > 0 and house.drop_before(cut) == old
    assert house.count() == before - old


@needs_chdb
def test_the_purge_under_holds_on_clickhouse(both: tuple[DuckDBStore, ClickHouseStore]) -> None:
    """The same rows and hold as the DuckDB test give the same counts and the same rows left:
    one day dropped as a partition, one rewritten by a mutation. (chDB allows one engine per
    process: the module's store, whose generated month starts after these days.)"""
    from tests.analytics.test_retention_events import CUTOFF, HELD, SPEC, rows

    _, house = both
    mine = "visitor_id IN ('v-held', 'v-other', 'v-anon')"
    assert house.query("SELECT count() FROM events WHERE day < ?", [CUTOFF]) == [(0,)]
    house.insert(rows(SPEC))
    try:
        assert house.purge_before(CUTOFF, [HELD], dry_run=True) == (3, 2)
        assert house.query(f"SELECT count() FROM events WHERE {mine}") == [(len(SPEC),)]
        assert house.purge_before(CUTOFF, [HELD]) == (3, 2)
        left = {r[0] for r in house.query(f"SELECT event_id FROM events WHERE {mine}")}
        assert left == {"held-anon", "held-in", "held-new", "anon-cutoff", "other-new"}
    finally:
        house.client.command(f"ALTER TABLE events DELETE WHERE {mine} SETTINGS mutations_sync = 1")
