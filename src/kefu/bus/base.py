"""The bus's interface (see the package's doc for the two kinds of traffic)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

Payload = Mapping[str, str]

DEFAULT_MIN_IDLE = 30.0  # seconds an entry stays with a silent consumer before another takes it
DEFAULT_MAX_DELIVERIES = 5  # tries before an entry is set aside as dead
# A work stream holding this many unacknowledged entries refuses more (the caller answers 503)
# rather than growing without bound or trimming work nobody has done.
MAX_UNACKED = 100_000
SIGNAL_MAXLEN = 1_000  # signals kept per topic in Redis (approximate trim): hints, not work


class BusError(Exception):
    """The bus's engine could not be reached or refused the operation."""


@dataclass(frozen=True)
class Delivery:
    """One work entry handed to a consumer; ``deliveries`` counts this one."""

    id: str
    payload: dict[str, str]
    deliveries: int


class Bus(Protocol):
    shared: bool  # True when other processes see the same events (Redis)

    async def publish(self, topic: str, payload: Payload) -> None: ...

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, str]]]:
        """Events published on ``topic`` from now on, until the context is left."""
        ...

    async def enqueue(self, stream: str, payload: Payload) -> str:
        """Adds a work entry; one consumer group per work stream (an acknowledged entry is
        deleted). Raises ``BusError`` when the stream is full or the engine is away."""
        ...

    async def claim(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        count: int = 10,
        wait: float = 1.0,
        min_idle: float = DEFAULT_MIN_IDLE,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    ) -> list[Delivery]:
        """Up to ``count`` entries for ``consumer``: first those another consumer of ``group``
        left unacknowledged for ``min_idle`` seconds, then new ones (waiting up to ``wait``
        seconds when there are none). Entries past ``max_deliveries`` go to the dead list."""
        ...

    async def ack(self, stream: str, group: str, *ids: str) -> None: ...

    async def dead(self, stream: str) -> list[dict[str, str]]:
        """Entries set aside after too many deliveries (for an operator to look at)."""
        ...

    async def close(self) -> None: ...


def check_payload(payload: Payload) -> dict[str, str]:
    """Payloads are flat maps of strings (what a Redis stream entry holds)."""
    if not payload:
        raise ValueError("an empty payload")
    out: dict[str, str] = {}
    for key, value in payload.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"payload field {key!r}: keys and values must be strings")
        out[key] = value
    return out
