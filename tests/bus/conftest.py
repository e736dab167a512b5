"""Both buses through one contract: the in-process one always, Redis Streams when
KEFU_TEST_REDIS_URL names a server (.ci/run starts one with scripts/start_redis.sh)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from kefu.bus.base import Bus
from kefu.bus.memory import InProcessBus

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL")


def worker_redis_url(url: str) -> str:
    """Each pytest-xdist worker its own Redis database number (gw0 → 1, gw1 → 2, none → 0)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    number = int(worker[2:]) + 1 if worker.startswith("gw") else 0
    return f"{url.rsplit('/', 1)[0]}/{number}"


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("KEFU_TEST_REDIS_URL is not set (.ci/run starts Redis)")
    return worker_redis_url(REDIS_URL)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        made: Bus = InProcessBus()
    else:
        from kefu.bus.redis_streams import RedisBus

        made = RedisBus(request.getfixturevalue("redis_url"))
        await made.redis.flushdb()  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        await made.close()
