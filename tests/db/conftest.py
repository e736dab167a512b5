"""The database tests' streaming replica (tests/db/replica.py): one per test session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.db.replica import Replica, start_replica, unavailable


@pytest.fixture(scope="session")
def pg_replica() -> Iterator[Replica]:
    """A real streaming replica of the test server. Skipped only without PostgreSQL; a
    machine that has it but cannot start a replica fails, saying why."""
    if not PG_URL:
        pytest.skip("KEFU_TEST_DATABASE_URL is not set: no PostgreSQL to replicate")
    why = unavailable(PG_URL)
    if why:
        pytest.fail(f"cannot start a PostgreSQL replica: {why}")
    # Not under pytest's tmp dir: that is root's alone, and the replica runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="kefu-replica-"))
    replica = start_replica(PG_URL, folder)
    try:
        yield replica
    finally:
        replica.stop()
        shutil.rmtree(folder, ignore_errors=True)
