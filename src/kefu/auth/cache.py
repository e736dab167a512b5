"""Short-lived per-process caches of rows read on every API call, emptied by any write.

A system calling the SMS API sends its key with every request, and every request read the key,
its partner, the template and the partner's right to it: four queries before any work
(docs/channels/sms.md, "Where the time goes"). A ``ReadCache`` keeps such answers for ``ttl``
seconds (2 s by default), and watches the tables they come from:

- a write in *this* process — an ORM flush that inserts, changes or deletes a row of a watched
  table, or an ``update()``/``delete()`` statement on it, through any session or engine —
  empties the cache when it is flushed and again when it is committed, so the next call reads
  the database (a reader that read the old row between the flush and the commit cannot keep
  it: its entry was stamped with the generation before the commit, and is refused);
- a write by *another* process (another uvicorn worker, ``kefu apikey revoke``) is seen here
  within ``ttl``: that window is the price of not reading on every call.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from kefu.db import writes

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_TTL = 2.0
MISSING: Any = object()
_caches: weakref.WeakSet[ReadCache[Any, Any]] = weakref.WeakSet()


class ReadCache(Generic[K, V]):
    def __init__(
        self,
        *watched: type,
        ttl: float = DEFAULT_TTL,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tables = frozenset(model.__table__.name for model in watched)  # type: ignore[attr-defined]
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self.generation = 0  # bumped by every invalidation: entries stamped older are refused
        self._entries: dict[K, tuple[float, int, V]] = {}
        self.hits = self.misses = 0
        _caches.add(self)

    def get(self, key: K) -> V:
        """The cached value, or ``MISSING``."""
        entry = self._entries.get(key)
        if entry is not None:
            expires, generation, value = entry
            if generation == self.generation and self.clock() < expires:
                self.hits += 1
                return value
            del self._entries[key]
        self.misses += 1
        return MISSING

    def put(self, key: K, value: V, generation: int) -> None:
        """Keeps ``value`` read after ``generation`` was current, unless a write came since."""
        if generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:  # many keys: start again rather than grow
            self._entries.clear()
        self._entries[key] = (self.clock() + self.ttl, generation, value)

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()


def _invalidate(tables: set[str]) -> None:
    for cache in list(_caches):
        if cache.tables & tables:
            cache.invalidate()


# Emptied as soon as a write is flushed, and again once it is committed (see the module's doc).
writes.on_write(_invalidate)
writes.on_commit(_invalidate)
