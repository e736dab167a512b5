"""The collector: each kind of bad input answers 4xx and is counted, never raises; what is
accepted is enriched, masked and written in batches."""

from __future__ import annotations

import json

import pytest

from kefu.analytics.collector import Collector
from kefu.analytics.store import DuckDBStore
from tests.analytics.conftest import CHROME, NOW, batch, event


def test_a_good_batch_is_enriched_masked_and_written(
    collector: Collector, store: DuckDBStore
) -> None:
    body = batch(
        event(1, url="https://bank.example/demo/bank/?utm_source=baidu&utm_medium=cpc"
              "&utm_campaign=spring&mobile=13812345678", ref="https://www.baidu.com/s?wd=x"),
        event(2, type="form_field", target="transfer", field="payee_account"),
        event(3, type="custom", target="note", props={"said": "my card 6214830000001126488"}),
        customer="6200000001",
    )  # fmt: skip
    outcome = collector.accept("demo-bank", body, CHROME)
    assert (outcome.status, outcome.accepted) == (202, 3)
    assert store.count() == 0  # queued, not yet written
    assert collector.flush() == 3
    rows = store.query(
        "SELECT type, path, query, channel, utm_campaign, browser, browser_version, device, "
        "customer_hash, props, field FROM events ORDER BY event_id"
    )
    view, field, custom = rows
    assert view[:8] == ("pageview", "/demo/bank/", "mobile=138****5678", "paid",
                        "spring", "Chrome", "124", "desktop")  # fmt: skip
    assert view[8] and "6200000001" not in view[8]  # the keyed hash, never the number
    assert field[10] == "payee_account"
    assert "6214830000001126488" not in custom[9] and "6214********6488" in custom[9]
    columns = [c[0] for c in store.query("DESCRIBE events")]
    assert not any(c == "ip" or "address" in c for c in columns)  # the IP is never stored


@pytest.mark.parametrize(
    ("site", "body", "status", "reason"),
    [
        ("nope", batch(event()), 404, "unknown_site"),
        ("demo-bank", b"{not json", 400, "malformed"),
        ("demo-bank", b"\xff\xfe", 400, "malformed"),
        ("demo-bank", json.dumps([1, 2]).encode(), 422, "invalid"),
        ("demo-bank", batch(), 422, "invalid"),  # no events
        ("demo-bank", batch(event(type="keystroke")), 422, "invalid"),
        # a form event carrying what was typed: there is no field for it
        ("demo-bank", batch(event(type="form_field", field="pin", value_text="123456")), 422,
         "invalid"),
        ("demo-bank", batch(event(url="x" * 2001)), 422, "invalid"),
        ("demo-bank", batch(event(props={f"k{i}": i for i in range(21)})), 422, "invalid"),
        ("demo-bank", batch(event(id="bad id!")), 422, "invalid"),
        ("demo-bank", batch(*[event(i) for i in range(21)]), 413, "too_many"),
        # an event from after its batch was sent (beyond the allowed skew): forged
        ("demo-bank", batch(event(t=int(NOW * 1000) + 3_600_000)), 422, "future"),
        # older than the offline queue keeps events
        ("demo-bank", batch(event(t=int(NOW * 1000) - 2 * 86_400_000)), 422, "stale"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_counted(
    collector: Collector, site: str, body: bytes, status: int, reason: str
) -> None:
    outcome = collector.accept(site, body, CHROME)
    assert outcome.status == status
    assert collector.refused[reason] >= 1
    assert collector.pending == 0


def test_a_sender_clock_off_by_an_hour_is_corrected_not_refused(
    collector: Collector, store: DuckDBStore
) -> None:
    late = int((NOW - 3600) * 1000)  # the phone's clock is an hour behind
    body = batch(event(1, t=late - 5000), sent_at=late)
    assert collector.accept("demo-bank", body, CHROME).status == 202
    collector.flush()
    (ts,) = store.query("SELECT epoch(ts) FROM events")[0]
    assert abs(ts - (NOW - 5)) < 1


def test_a_replayed_event_is_refused(collector: Collector) -> None:
    assert collector.accept("demo-bank", batch(event(1)), CHROME).status == 202
    again = collector.accept("demo-bank", batch(event(1), event(2)), CHROME)
    assert (again.status, again.accepted, again.refused) == (202, 1, {"replayed": 1})
    assert collector.accept("demo-bank", batch(event(1)), CHROME).status == 409
    assert collector.refused["replayed"] == 2


def test_bots_are_answered_but_not_stored(collector: Collector, store: DuckDBStore) -> None:
    outcome = collector.accept("demo-bank", batch(event()), "Googlebot/2.1")
    assert (outcome.status, outcome.accepted) == (202, 0)
    collector.flush()
    assert store.count() == 0 and collector.refused["bot"] == 1


def test_a_full_queue_sheds_load_with_503_until_written(
    collector: Collector, store: DuckDBStore
) -> None:
    for k in range(5):  # 5 x 20 events fill the queue of 100
        body = batch(*[event(k * 20 + i) for i in range(20)])
        assert collector.accept("demo-bank", body, CHROME).status == 202
    assert collector.accept("demo-bank", batch(event(500)), CHROME).status == 503
    assert collector.refused["overload"] == 1
    assert collector.flush() == 100
    assert collector.accept("demo-bank", batch(event(500)), CHROME).status == 202


def test_rows_are_kept_when_the_store_fails(collector: Collector, store: DuckDBStore) -> None:
    collector.accept("demo-bank", batch(event(1)), CHROME)
    real = store.insert

    def broken(columns):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    store.insert = broken  # type: ignore[method-assign]
    assert collector.flush() == 0
    assert collector.pending == 1
    store.insert = real  # type: ignore[method-assign]
    assert collector.flush() == 1 and store.count() == 1


def test_the_writer_thread_flushes_on_its_own(store: DuckDBStore) -> None:
    import time

    from kefu.analytics.settings import AnalyticsSettings, Site

    settings = AnalyticsSettings(sites=[Site(key="demo-bank")], flush_seconds=0.05)
    collector = Collector(store, settings, b"k", clock=lambda: NOW)
    collector.start()
    try:
        collector.accept("demo-bank", batch(event(1)), CHROME)
        deadline = time.monotonic() + 5
        while store.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.count() == 1
    finally:
        collector.stop()
