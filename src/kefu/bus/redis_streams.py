"""The scale-out bus on Redis Streams (redis-py's asyncio client).

- Signals: ``XADD topic MAXLEN ~ 1000``; each subscriber reads on from the newest id it saw with
  a blocking ``XREAD``, so nothing published between two reads is missed.
- Work: ``XADD`` to the stream, ``XREADGROUP`` for new entries, ``XAUTOCLAIM`` for entries a
  consumer left pending for ``min_idle`` seconds (it died), ``XACK`` + ``XDEL`` once done (one
  group per work stream, so the stream holds only unfinished work and stays bounded); past
  ``max_deliveries`` an entry is copied to ``<stream>:dead`` and acknowledged.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from kefu.bus.base import (
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_MIN_IDLE,
    MAX_UNACKED,
    SIGNAL_MAXLEN,
    BusError,
    Delivery,
    Payload,
    check_payload,
)

PREFIX = "kefu:"  # every key kefu makes, so a shared Redis shows whose they are
# A blocking read must end before the client's socket timeout (redis-py 8's default is 5 s):
# a subscriber whose XREAD blocked as long as the timeout failed after 5 quiet seconds, and
# every live page then polled the database as if Redis were down.
# The timeout is also how long a live page stays frozen on a Redis that stopped answering
# (holds its connections, answers nothing) before it falls back to reading the database.
BLOCK_SECONDS = 2.0
SOCKET_TIMEOUT = 4.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: Any) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in (raw or {}).items()}


class RedisBus:
    shared = True

    def __init__(self, url: str, *, client: aioredis.Redis | None = None) -> None:
        self.url = url
        # Blocking reads hold a connection each: the pool grows with open live pages.
        self.redis = client or aioredis.Redis.from_url(
            url, health_check_interval=30, socket_timeout=SOCKET_TIMEOUT
        )
        self._groups: set[tuple[str, str]] = set()

    @staticmethod
    def key(name: str) -> str:
        return PREFIX + name

    # ---------------------------------------------------------------- signals
    async def publish(self, topic: str, payload: Payload) -> None:
        event = check_payload(payload)
        try:
            await self.redis.xadd(self.key(topic), event, maxlen=SIGNAL_MAXLEN, approximate=True)  # type: ignore[arg-type]
        except RedisError as exc:
            raise BusError(f"publish {topic}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, str]]]:
        key = self.key(topic)
        # "$" read once would be racy between reads; the newest id now is where we start.
        try:
            newest = await self.redis.xrevrange(key, count=1)
        except RedisError as exc:
            raise BusError(f"subscribe {topic}: {exc}") from exc
        last = _text(newest[0][0]) if newest else "0-0"

        async def events() -> AsyncIterator[dict[str, str]]:
            nonlocal last
            while True:
                try:
                    got = await self.redis.xread({key: last}, count=100,
                                                 block=int(BLOCK_SECONDS * 1000))  # fmt: skip
                except RedisError as exc:
                    raise BusError(f"subscribe {topic}: {exc}") from exc
                for _stream, entries in got or []:
                    for entry_id, fields in entries:
                        last = _text(entry_id)
                        yield _fields(fields)

        yield events()

    # ------------------------------------------------------------------- work
    async def _ensure_group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        try:
            await self.redis.xgroup_create(self.key(stream), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((stream, group))

    async def enqueue(self, stream: str, payload: Payload) -> str:
        entry = check_payload(payload)
        key = self.key(stream)
        try:
            waiting = await self.redis.xlen(key)
            if waiting >= MAX_UNACKED:  # refused, never trimmed: the caller answers 503
                raise BusError(f"{stream}: {waiting} entries not yet acknowledged")
            return _text(await self.redis.xadd(key, entry))  # type: ignore[arg-type]
        except RedisError as exc:
            raise BusError(f"enqueue {stream}: {exc}") from exc

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
        try:
            return await self._claim(stream, group, consumer, count, wait, min_idle,
                                     max_deliveries)  # fmt: skip
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise BusError(f"claim {stream}: {exc}") from exc
            # Redis restarted without persistence (or the stream was deleted): the group is
            # gone. Make it again (it reads the stream from its start) and go on.
            self._groups.discard((stream, group))
            try:
                return await self._claim(stream, group, consumer, count, wait, min_idle,
                                         max_deliveries)  # fmt: skip
            except RedisError as again:
                raise BusError(f"claim {stream}: {again}") from again
        except RedisError as exc:
            raise BusError(f"claim {stream}: {exc}") from exc

    async def _claim(self, stream: str, group: str, consumer: str, count: int, wait: float,
                     min_idle: float, max_deliveries: int) -> list[Delivery]:  # fmt: skip
        key = self.key(stream)
        await self._ensure_group(stream, group)
        out = await self._reclaim(stream, group, consumer, count, min_idle, max_deliveries)
        if len(out) < count:
            block = int(min(wait, BLOCK_SECONDS) * 1000) if not out and wait > 0 else None
            got = await self.redis.xreadgroup(group, consumer, {key: ">"},
                                              count=count - len(out), block=block)  # fmt: skip
            for _stream, entries in got or []:
                out.extend(Delivery(_text(i), _fields(f), 1) for i, f in entries)
        return out

    async def _reclaim(self, stream: str, group: str, consumer: str, count: int,
                       min_idle: float, max_deliveries: int) -> list[Delivery]:  # fmt: skip
        key = self.key(stream)
        _next, claimed, _deleted = await self.redis.xautoclaim(
            key, group, consumer, min_idle_time=int(min_idle * 1000), start_id="0-0", count=count
        )
        if not claimed:
            return []
        ids = [_text(i) for i, _ in claimed]
        tries = {
            _text(p["message_id"]): int(p["times_delivered"])
            for p in await self.redis.xpending_range(
                key, group, min=ids[0], max=ids[-1], count=1000, consumername=consumer
            )
        }
        out: list[Delivery] = []
        for entry_id, fields in claimed:
            entry_id, payload = _text(entry_id), _fields(fields)
            delivered = tries.get(entry_id, 1)
            if delivered > max_deliveries:
                await self.redis.xadd(self.key(f"{stream}:dead"), {"id": entry_id, **payload})
                await self.ack(stream, group, entry_id)
                continue
            out.append(Delivery(entry_id, payload, delivered))
        return out

    async def ack(self, stream: str, group: str, *ids: str) -> None:
        if not ids:
            return
        key = self.key(stream)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(key, group, *ids)
                pipe.xdel(key, *ids)
                await pipe.execute()
        except RedisError as exc:
            raise BusError(f"ack {stream}: {exc}") from exc

    async def dead(self, stream: str) -> list[dict[str, str]]:
        try:
            entries = await self.redis.xrange(self.key(f"{stream}:dead"))
        except RedisError as exc:
            raise BusError(f"dead {stream}: {exc}") from exc
        return [_fields(fields) for _id, fields in entries]

    async def close(self) -> None:
        await self.redis.aclose()
