"""Scale-out tests: the Redis they use (KEFU_TEST_REDIS_URL; skipped without it)."""

from __future__ import annotations

import os

import pytest

from tests.bus.conftest import worker_redis_url

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL")


@pytest.fixture
def redis_url() -> str:
    """Under pytest-xdist each worker's own database number; run alone, the URL as given
    (so a developer's run keeps to the database named there). Keys are unique per test: no
    flush, nothing of another run's is touched."""
    if not REDIS_URL:
        pytest.skip("KEFU_TEST_REDIS_URL is not set (.ci/run starts Redis)")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return worker_redis_url(REDIS_URL)
    return REDIS_URL
