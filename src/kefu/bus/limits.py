"""Rate limits shared by every process that uses the same engine.

A token bucket per key (``take``: partners' messages per second). In one process the bucket is
a ``TokenBucket`` in memory; on Redis it is one hash per key updated by a Lua
script with the server's clock, so four web workers admit together what one would, not four
times it. If Redis cannot be reached the limiter falls back to this process's buckets (each
process then admits the full rate: the bound while Redis is away is workers × rate) and logs it.
A take waits at most ``TIMEOUT`` for Redis; after a failure Redis is asked again only after
``RETRY_SECONDS``, by one request (the others take from the local bucket at once), so a Redis
that does not answer costs one request a second its timeout, not every request; when Redis is
back the buckets are shared again within that time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from kefu.logs import get_logger

log = get_logger(__name__)

RETRY_SECONDS = 1.0  # after a failure, how long the local buckets answer before Redis is asked
TIMEOUT = 1.0  # seconds a take waits for Redis (to connect, then to answer) before falling back


class Limits(Protocol):
    shared: bool

    async def take(self, key: str, n: int, *, rate: float, burst: int) -> float:
        """Takes ``n`` tokens from ``key``'s bucket and returns 0, or takes none and returns the
        seconds until ``n`` would be there (``inf`` when ``n`` exceeds the bucket). A changed
        rate or burst starts a fresh, full bucket."""
        ...


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), now

    def take(self, n: int, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if n > self.burst:
            return math.inf
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


class InProcessLimits:
    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.clock, self.max_keys = clock, max_keys
        self._buckets: dict[str, TokenBucket] = {}

    async def take(self, key: str, n: int, *, rate: float, burst: int) -> float:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()  # many keys: start again (full buckets) rather than grow
            bucket = self._buckets[key] = TokenBucket(rate, burst, now)
        return bucket.take(n, now)


# KEYS[1] the bucket; ARGV rate, burst, n. Redis's own clock, so every worker agrees on "now".
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp', 'rate', 'burst')
local tokens, stamp = tonumber(b[1]), tonumber(b[2])
if tokens == nil or tonumber(b[3]) ~= rate or tonumber(b[4]) ~= burst then
  tokens, stamp = burst, now
end
tokens = math.min(burst, tokens + (now - stamp) * rate)
local wait = 0
if n > burst then
  wait = -1
elseif tokens >= n then
  tokens = tokens - n
else
  wait = (n - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now),
           'rate', ARGV[1], 'burst', ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class RedisLimits:
    shared = True

    def __init__(self, url: str) -> None:
        from redis import asyncio as aioredis

        # A take is on every partner request's path: a Redis that stops answering (not
        # refusing) must cost a request at most a second, not redis-py's default 5 s.
        self.redis = aioredis.Redis.from_url(url, health_check_interval=30,
                                             socket_timeout=TIMEOUT,
                                             socket_connect_timeout=TIMEOUT)  # fmt: skip
        self._script = self.redis.register_script(_TAKE)
        self._fallback = InProcessLimits()
        self._warned = 0.0
        self._failed = False  # Redis failed the last time it was asked
        self._retry_at = 0.0  # while failed, Redis is not asked before this

    async def take(self, key: str, n: int, *, rate: float, burst: int) -> float:
        from redis.exceptions import RedisError

        if self._failed:
            if time.monotonic() < self._retry_at:
                return await self._fallback.take(key, n, rate=rate, burst=burst)
            # One request asks Redis again; those arriving meanwhile take from the local
            # bucket rather than all wait on a Redis that may still not answer.
            self._retry_at = time.monotonic() + RETRY_SECONDS
        try:
            # Lua turns a float reply into an integer: the wait travels as a string.
            raw = await self._script(keys=[f"kefu:limit:{key}"], args=[repr(float(rate)), burst, n])
        except RedisError as exc:
            self._failed, self._retry_at = True, time.monotonic() + RETRY_SECONDS
            if time.monotonic() - self._warned > 60:  # once a minute, not per request
                self._warned = time.monotonic()
                log.warning("shared_limits_unreachable", error=str(exc))
            return await self._fallback.take(key, n, rate=rate, burst=burst)
        if self._failed:
            self._failed = False
            log.info("shared_limits_back")  # once per outage: the buckets are shared again
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return math.inf if wait < 0 else wait

    async def close(self) -> None:
        await self.redis.aclose()


def make_limits(url: str | None) -> InProcessLimits | RedisLimits:
    return RedisLimits(url) if url else InProcessLimits()


def of_app(state: Any) -> Limits:
    """The app's limits (``app.state.limits``, made in its lifespan from KEFU_BUS_URL); an app
    used without its lifespan gets its own in-process ones."""
    limits = getattr(state, "limits", None)
    if limits is None:
        limits = state.limits = InProcessLimits()
    return limits


async def over(limits: Limits, key: str, *, tries: int, per_seconds: float) -> bool:
    """Whether one more try on ``key`` goes over "``tries`` per ``per_seconds``": a bucket of
    ``tries`` that refills over ``per_seconds`` (the first ``tries`` pass at once, then one
    every ``per_seconds / tries``). Counts the try when it passes."""
    return await limits.take(key, 1, rate=tries / per_seconds, burst=tries) > 0
