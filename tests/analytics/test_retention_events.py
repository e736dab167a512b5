"""The event store's retention purge under legal holds (DuckDB): the dry run counts exactly what
the purge removes; a held customer's rows stay, matched by the keyed hash, with their visitor's
rows from before signing in; the ClickHouse dialect's statements (partitions, a mutation)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kefu.analytics.enrich import customer_hash
from kefu.analytics.store import COLUMNS, DuckDBStore
from kefu.analytics.store.clickhouse import ClickHouseStore

KEY = b"retention-key"
HELD = customer_hash(KEY, "C1")
OTHER = customer_hash(KEY, "C2")
CUTOFF = date(2026, 11, 1)


def rows(spec: list[tuple[str, str, str, date]]) -> dict[str, list[Any]]:
    """(event id, visitor, customer hash, day) → the store's columns."""
    out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for event_id, visitor, customer, day in spec:
        row = {name: "" for name in COLUMNS} | {
            "event_id": event_id, "site": "demo-bank", "ts": datetime.combine(day, datetime.min.time()),
            "day": day, "type": "pageview", "session_id": f"s-{visitor}", "visitor_id": visitor,
            "customer_hash": customer, "status": 0, "value": 0.0,
        }  # fmt: skip
        for name in COLUMNS:
            out[name].append(row[name])
    return out


OLD, NEW = CUTOFF - timedelta(days=40), CUTOFF + timedelta(days=3)
SPEC = [
    ("held-anon", "v-held", "", OLD),  # the held customer's device, before signing in
    ("held-in", "v-held", HELD, OLD),
    ("held-new", "v-held", HELD, NEW),
    ("other-old", "v-other", OTHER, OLD),
    ("anon-old", "v-anon", "", OLD),
    ("anon-day-before", "v-anon", "", CUTOFF - timedelta(days=1)),
    ("anon-cutoff", "v-anon", "", CUTOFF),  # the cutoff day itself is kept
    ("other-new", "v-other", OTHER, NEW),
]


@pytest.fixture
def filled(store: DuckDBStore) -> DuckDBStore:
    store.insert(rows(SPEC))
    return store


def ids(store: DuckDBStore) -> set[str]:
    return {r[0] for r in store.query("SELECT event_id FROM events")}


def test_the_dry_run_counts_what_the_purge_removes_and_holds_stay(filled: DuckDBStore) -> None:
    assert filled.purge_before(CUTOFF, [HELD], dry_run=True) == (3, 2)
    assert len(ids(filled)) == len(SPEC)  # a dry run changes nothing
    assert filled.purge_before(CUTOFF, [HELD]) == (3, 2)
    assert ids(filled) == {"held-anon", "held-in", "held-new", "anon-cutoff", "other-new"}
    assert filled.purge_before(CUTOFF, [HELD]) == (0, 2)  # again: nothing more is due


def test_without_holds_every_old_day_goes(filled: DuckDBStore) -> None:
    assert filled.purge_before(CUTOFF, [], dry_run=True) == (5, 0)
    assert filled.purge_before(CUTOFF, ["", ""]) == (5, 0)  # empty hashes hold nothing
    assert ids(filled) == {"held-new", "anon-cutoff", "other-new"}


class Recorder:
    """A ClickHouse client that records the statements (no server here; chDB runs the dialect
    in tests/analytics/test_clickhouse.py when installed)."""

    def __init__(self, answers: list[list[tuple[Any, ...]]]) -> None:
        self.answers, self.commands = answers, []

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str, parameters: Any = None, settings: Any = None) -> Any:
        return type("Result", (), {"result_rows": self.answers.pop(0)})()

    def insert_arrow(self, table: str, arrow_table: Any) -> None: ...


def test_clickhouse_drops_whole_days_and_rewrites_only_days_with_held_rows() -> None:
    client = Recorder([[(OLD, 2, 1), (CUTOFF - timedelta(days=1), 4, 0)]])
    house = ClickHouseStore(client)
    client.commands.clear()
    assert house.purge_before(CUTOFF, [HELD]) == (6, 1)
    rewrite, drop = sorted(client.commands)  # "ALTER TABLE events DELETE" < "… DROP"
    assert drop == f"ALTER TABLE events DROP PARTITION '{CUTOFF - timedelta(days=1)}'"
    assert rewrite.startswith(f"ALTER TABLE events DELETE WHERE day = '{OLD}' AND NOT (")
    assert f"customer_hash IN ('{HELD}')" in rewrite and "mutations_sync = 1" in rewrite
    with pytest.raises(ValueError):
        house.purge_before(CUTOFF, ["x'); DROP TABLE events; --"])


@pytest.mark.db
def test_the_commands_count_and_purge_the_configured_store(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kefu analytics retention --dry-run`` counts and ``kefu retention purge`` purges the
    configured DuckDB file's old days, reporting both analytics kinds."""
    from typer.testing import CliRunner

    from kefu.cli import app

    path = tmp_path / "events.duckdb"
    monkeypatch.setenv("KEFU_ANALYTICS", json.dumps({"store_path": str(path)}))
    seeded = DuckDBStore(path, threads=1)
    old = datetime.now(UTC).date() - timedelta(days=500)
    seeded.insert(rows([("old-1", "v1", "", old), ("old-2", "v2", "", old)]))
    seeded.close()
    runner = CliRunner()
    url = ["--database-url", db_url]
    dry = runner.invoke(app, ["analytics", "retention", "--dry-run", *url])
    assert dry.exit_code == 0 and "would delete 2 events" in dry.output, dry.output
    report = runner.invoke(app, ["retention", "purge", "--json", *url])
    assert report.exit_code == 0, report.output
    kinds = {k["kind"]: k for k in json.loads(report.output)["kinds"]}
    assert (kinds["analytics_events"]["due"], kinds["analytics_replays"]["due"]) == (2, 0)
    left = DuckDBStore(path, threads=1)
    assert left.count() == 0
    left.close()
