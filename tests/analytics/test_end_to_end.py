"""Behaviour analytics I (rest) through the real app, on each database: bank segments, session
replay, topics — one seeded database and one app per backend for the three (CI time), each
part's checks in its own module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kefu.config import load_settings
from tests.analytics.test_bank_segments import segments_end_to_end
from tests.analytics.test_replay import replay_end_to_end
from tests.analytics.test_topics import topics_end_to_end

pytestmark = pytest.mark.db


@pytest.fixture
def client(seeded_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from kefu.app import create_app

    settings = load_settings(
        database_url=seeded_url, secret_key="test-secret",
        analytics={"store_path": str(tmp_path / "events.duckdb"), "flush_seconds": 0.05,
                   "replay_session_bytes": 100_000},
    )  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_segments_replay_and_topics(client: TestClient) -> None:
    segments_end_to_end(client)  # first: the topics' generated month signs more customers in
    replay_end_to_end(client)
    topics_end_to_end(client)
