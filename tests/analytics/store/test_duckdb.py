"""Closing the DuckDB store while another thread queries it (the web process shutting down
during an alerts check or a page's query): the close interrupts the query, waits for it to
leave and closes; the interrupted call and any later one get ``StoreClosed``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from kefu.analytics import alerts
from kefu.analytics.store import DuckDBStore
from kefu.analytics.store.base import StoreClosed

# Billions of rows: far longer than the test, so only the close's interrupt ends it.
LONG = "SELECT count(*) FROM range(100000000000) a"


def _query_in_thread(store: DuckDBStore) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            store.query(LONG)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _wait_busy(store: DuckDBStore) -> None:
    for _ in range(500):
        if store._busy:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the query never started")


def test_close_during_a_long_query_interrupts_it_and_closes() -> None:
    store = DuckDBStore(":memory:", threads=1)
    thread, errors = _query_in_thread(store)
    _wait_busy(store)
    store.close()  # before: duckdb.ResourceInUseException "connection is busy"
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], StoreClosed), errors
    with pytest.raises(StoreClosed):
        store.query("SELECT 1")
    with pytest.raises(StoreClosed):
        store.drop_before(date(2026, 1, 1))
    store.close()  # twice: nothing


def test_close_with_several_threads_querying() -> None:
    store = DuckDBStore(":memory:", threads=1)
    running = [_query_in_thread(store) for _ in range(3)]
    for _ in range(500):
        if sum(store._busy.values()) == 3:
            break
        threading.Event().wait(0.01)
    store.close()
    for thread, errors in running:
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert [type(e) for e in errors] == [StoreClosed]


def test_a_query_that_is_not_interrupted_still_works_after_another_finished() -> None:
    """The busy marks are released: the store stays usable and closes at once when idle."""
    store = DuckDBStore(":memory:", threads=1)
    assert store.query("SELECT 41 + 1") == [(42,)]
    assert store.count() == 0
    assert not store._busy
    store.close()


class _SlowStore:
    """A store whose query holds its thread until released (what a long DuckDB query does)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.left = threading.Event()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.entered.set()
        try:
            self.release.wait(60)
            return []
        finally:
            self.left.set()


async def test_a_cancelled_check_returns_only_once_its_query_left_the_store() -> None:
    """The checker's stop (kefu.runtime) cancels the task and then closes the store: the task
    must not end while its query still runs in a thread (before: it ended at once)."""
    store = _SlowStore()
    task = asyncio.create_task(alerts.check(None, store, "demo-bank", datetime.now(UTC).date()))  # type: ignore[arg-type]
    for _ in range(500):
        if store.entered.is_set():
            break
        await asyncio.sleep(0.01)
    assert store.entered.is_set()
    task.cancel()
    await asyncio.sleep(0.2)
    assert not task.done(), "the cancelled check ended while its query still ran"
    store.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.left.is_set()
