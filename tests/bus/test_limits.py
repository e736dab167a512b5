"""Shared rate limits: two workers on one Redis admit together what one bucket allows."""

from __future__ import annotations

import math
import socket

import pytest

from kefu.bus.limits import InProcessLimits, RedisLimits, make_limits


async def test_two_workers_share_one_bucket(redis_url: str) -> None:
    one, two = RedisLimits(redis_url), RedisLimits(redis_url)
    try:
        await one.redis.flushdb()
        assert await one.take("partner:1", 3, rate=0.01, burst=5) == 0.0
        assert await two.take("partner:1", 2, rate=0.01, burst=5) == 0.0
        # The bucket is empty for both: the second worker does not have a bucket of its own.
        wait = await one.take("partner:1", 1, rate=0.01, burst=5)
        assert wait == pytest.approx(100, rel=0.05)
        assert await two.take("partner:1", 6, rate=0.01, burst=5) == math.inf
        assert await two.take("partner:2", 5, rate=0.01, burst=5) == 0.0  # its own bucket
        assert await two.take("partner:1", 1, rate=0.01, burst=6) == 0.0  # new terms: fresh
    finally:
        await one.close()
        await two.close()


async def test_racing_requests_never_take_more_than_the_bucket(redis_url: str) -> None:
    import asyncio

    workers = [RedisLimits(redis_url) for _ in range(4)]
    try:
        await workers[0].redis.flushdb()
        waits = await asyncio.gather(*(w.take("partner:9", 1, rate=0.001, burst=10)
                                       for _ in range(10) for w in workers))  # fmt: skip
        assert sum(1 for w in waits if w == 0.0) == 10  # 40 asked, the burst of 10 admitted
    finally:
        for w in workers:
            await w.close()


async def test_an_unreachable_redis_falls_back_to_this_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limits = RedisLimits(f"redis://127.0.0.1:{port}/0")
    try:
        assert await limits.take("partner:1", 2, rate=1.0, burst=2) == 0.0
        assert await limits.take("partner:1", 1, rate=1.0, burst=2) > 0  # still limited here
    finally:
        await limits.close()


def test_the_setting_chooses_the_limits() -> None:
    assert isinstance(make_limits(""), InProcessLimits)
    assert isinstance(make_limits("redis://127.0.0.1:6379/0"), RedisLimits)
