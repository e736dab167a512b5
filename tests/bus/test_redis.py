"""Redis Streams specifics: a bus whose server is away says so; two processes' buses share."""

from __future__ import annotations

import asyncio

import pytest

from kefu.bus import make_bus
from kefu.bus.base import BusError
from kefu.bus.memory import InProcessBus
from kefu.bus.redis_streams import RedisBus
from tests.ports import free_port


async def test_an_unreachable_redis_is_a_clear_bus_error() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(BusError, match="enqueue inbound"):
            await bus.enqueue("inbound", {"n": "1"})
        with pytest.raises(BusError, match="publish workspace"):
            await bus.publish("workspace", {"n": "1"})
    finally:
        await bus.close()


async def test_two_clients_share_signals_and_work(redis_url: str) -> None:
    """Two web workers: what one publishes the other's subscribers see; work one enqueues the
    other claims."""
    one, two = RedisBus(redis_url), RedisBus(redis_url)
    try:
        await one.redis.flushdb()
        async with two.subscribe("workspace") as events:
            await one.publish("workspace", {"tables": "messages"})
            assert await asyncio.wait_for(anext(events), 5) == {"tables": "messages"}
        await one.enqueue("inbound", {"n": "1"})
        got = await two.claim("inbound", "workers", "w2", wait=0)
        assert [d.payload for d in got] == [{"n": "1"}]
    finally:
        await one.close()
        await two.close()


def test_the_setting_chooses_the_bus() -> None:
    assert isinstance(make_bus(""), InProcessBus)
    assert isinstance(make_bus("redis://127.0.0.1:6379/0"), RedisBus)
    with pytest.raises(ValueError, match="amqp"):
        make_bus("amqp://broker")
