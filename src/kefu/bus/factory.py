"""The bus the settings ask for: in-process unless ``KEFU_BUS_URL`` names a Redis server."""

from __future__ import annotations

from kefu.bus.base import Bus


def make_bus(url: str | None) -> Bus:
    if not url:
        from kefu.bus.memory import InProcessBus

        return InProcessBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from kefu.bus.redis_streams import RedisBus

        return RedisBus(url)
    raise ValueError(f"KEFU_BUS_URL: {url.split('://')[0]!r} is not a bus kefu knows (redis://…)")
