"""Token buckets for partners' messages per second (per process: each worker has its own)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    capacity: int
    tokens: float
    stamp: float

    def take(self, n: int, now: float) -> float:
        """Takes ``n`` tokens and returns 0, or takes none and returns the seconds until ``n``
        would be there (``inf`` when ``n`` exceeds the bucket)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if n > self.capacity:
            return math.inf
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


class RateLimiter:
    """One bucket per partner; a changed rate or burst starts a fresh, full bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[int, TokenBucket] = {}

    def take(self, partner_id: int, n: int, *, rate: float, burst: int) -> float:
        now = self.clock()
        bucket = self._buckets.get(partner_id)
        if bucket is None or bucket.rate != rate or bucket.capacity != burst:
            bucket = TokenBucket(rate=rate, capacity=burst, tokens=burst, stamp=now)
            self._buckets[partner_id] = bucket
        return bucket.take(n, now)
