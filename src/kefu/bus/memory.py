"""The embedded bus: one process, asyncio queues. Same behaviour as the Redis one within a
process (tests run both through one contract), nothing survives a restart."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from kefu.bus.base import (
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_MIN_IDLE,
    MAX_UNACKED,
    BusError,
    Delivery,
    Payload,
    check_payload,
)

SUBSCRIBER_BACKLOG = 1000  # a subscriber this far behind loses its oldest signals, not the writer


@dataclass
class _Pending:
    payload: dict[str, str]
    consumer: str
    since: float
    deliveries: int


@dataclass
class _Stream:
    # Entries enqueued before any consumer group existed: the first group takes them.
    backlog: deque[tuple[str, dict[str, str]]] = field(default_factory=deque)
    groups: dict[str, dict[str, _Pending]] = field(default_factory=dict)
    # Per group: entries not yet handed to anyone (each group sees every entry once).
    unread: dict[str, deque[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    dead: list[dict[str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class InProcessBus:
    shared = False

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, str]]]] = {}
        self._streams: dict[str, _Stream] = {}
        self._ids = itertools.count(1)

    # ---------------------------------------------------------------- signals
    async def publish(self, topic: str, payload: Payload) -> None:
        event = check_payload(payload)
        for queue in self._subscribers.get(topic, ()):
            if queue.full():
                queue.get_nowait()  # the oldest goes: signals are hints, the writer never waits
            queue.put_nowait(dict(event))

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, str]]]:
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.setdefault(topic, set()).add(queue)

        async def events() -> AsyncIterator[dict[str, str]]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._subscribers[topic].discard(queue)

    # ------------------------------------------------------------------- work
    def _stream(self, name: str) -> _Stream:
        return self._streams.setdefault(name, _Stream())

    async def enqueue(self, stream: str, payload: Payload) -> str:
        entry = check_payload(payload)
        s = self._stream(stream)
        waiting = max([len(s.backlog)] + [len(u) + len(s.groups[g]) for g, u in s.unread.items()])
        if waiting >= MAX_UNACKED:  # refused, never dropped: the caller answers 503
            raise BusError(f"{stream}: {waiting} entries not yet acknowledged")
        entry_id = f"{int(time.time() * 1000)}-{next(self._ids)}"
        for unread in s.unread.values() or [s.backlog]:
            unread.append((entry_id, entry))
        s.arrived.set()
        return entry_id

    def _group(self, s: _Stream, group: str) -> tuple[dict[str, _Pending], deque]:
        if group not in s.groups:  # the first group takes what was enqueued before it
            s.groups[group] = {}
            s.unread[group], s.backlog = s.backlog, deque()
        return s.groups[group], s.unread[group]

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
        s = self._stream(stream)
        pending, unread = self._group(s, group)
        now = self.clock()
        out: list[Delivery] = []
        for entry_id, p in list(pending.items()):
            if len(out) >= count:
                break
            if p.consumer != consumer and now - p.since >= min_idle:
                if p.deliveries >= max_deliveries:
                    s.dead.append({"id": entry_id, **p.payload})
                    del pending[entry_id]
                    continue
                p.consumer, p.since, p.deliveries = consumer, now, p.deliveries + 1
                out.append(Delivery(entry_id, dict(p.payload), p.deliveries))
        if not out and not unread and wait > 0:
            s.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(s.arrived.wait(), wait)
        while unread and len(out) < count:
            entry_id, payload = unread.popleft()
            pending[entry_id] = _Pending(payload, consumer, self.clock(), 1)
            out.append(Delivery(entry_id, dict(payload), 1))
        return out

    async def ack(self, stream: str, group: str, *ids: str) -> None:
        pending, _ = self._group(self._stream(stream), group)
        for entry_id in ids:
            pending.pop(entry_id, None)

    async def dead(self, stream: str) -> list[dict[str, str]]:
        return list(self._stream(stream).dead)

    async def close(self) -> None:
        self._subscribers.clear()
