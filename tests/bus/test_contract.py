"""What every bus promises (run on the in-process bus and on Redis Streams)."""

from __future__ import annotations

import asyncio

import pytest

from kefu.bus.base import Bus, BusError


async def _next(events, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(anext(events), timeout)


async def test_every_subscriber_gets_what_is_published_after_it_subscribed(bus: Bus) -> None:
    await bus.publish("workspace", {"n": "before"})
    async with bus.subscribe("workspace") as first, bus.subscribe("workspace") as second:
        for n in ("1", "2", "3"):
            await bus.publish("workspace", {"n": n})
        await bus.publish("elsewhere", {"n": "other topic"})
        for events in (first, second):
            got = [(await _next(events))["n"] for _ in range(3)]
            assert got == ["1", "2", "3"]  # in order, and not "before"


async def test_work_goes_to_one_consumer_and_leaves_when_acknowledged(bus: Bus) -> None:
    ids = [await bus.enqueue("inbound", {"n": str(n)}) for n in range(4)]
    a = await bus.claim("inbound", "workers", "a", count=2, wait=0)
    b = await bus.claim("inbound", "workers", "b", count=10, wait=0)
    assert [d.payload["n"] for d in a] == ["0", "1"]
    assert [d.payload["n"] for d in b] == ["2", "3"]
    assert {d.id for d in a + b} == set(ids) and all(d.deliveries == 1 for d in a + b)
    await bus.ack("inbound", "workers", *(d.id for d in a + b))
    assert await bus.claim("inbound", "workers", "c", count=10, wait=0, min_idle=0) == []


async def test_work_left_by_a_dead_consumer_is_claimed_again_then_set_aside(bus: Bus) -> None:
    await bus.enqueue("inbound", {"text": "余额"})
    first = await bus.claim("inbound", "workers", "dies", wait=0)
    assert len(first) == 1
    # Not yet idle long enough: another consumer does not take it.
    assert await bus.claim("inbound", "workers", "other", wait=0, min_idle=60) == []
    await asyncio.sleep(0.05)
    again = await bus.claim("inbound", "workers", "other", wait=0, min_idle=0.01)
    assert [(d.id, d.payload, d.deliveries) for d in again] == [(first[0].id, {"text": "余额"}, 2)]
    await asyncio.sleep(0.05)
    # Past max_deliveries it goes to the dead list, acknowledged, never handed out again.
    gone = await bus.claim("inbound", "workers", "third", wait=0, min_idle=0.01, max_deliveries=2)
    assert gone == []
    assert await bus.dead("inbound") == [{"id": first[0].id, "text": "余额"}]
    await asyncio.sleep(0.05)
    assert await bus.claim("inbound", "workers", "fourth", wait=0, min_idle=0.01) == []


async def test_a_waiting_consumer_wakes_when_work_arrives(bus: Bus) -> None:
    await bus.claim("inbound", "workers", "a", wait=0)  # the group exists
    waiting = asyncio.create_task(bus.claim("inbound", "workers", "a", wait=5))
    await asyncio.sleep(0.1)
    await bus.enqueue("inbound", {"n": "1"})
    got = await asyncio.wait_for(waiting, 10)
    assert [d.payload for d in got] == [{"n": "1"}]


@pytest.mark.parametrize(
    ("payload", "error"), [({}, ValueError), ({"n": 1}, TypeError), ({1: "x"}, TypeError)]
)
async def test_payloads_are_flat_maps_of_strings(bus: Bus, payload, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        await bus.publish("workspace", payload)
    with pytest.raises(error):
        await bus.enqueue("inbound", payload)


async def test_a_full_work_stream_refuses_rather_than_drops(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = __import__(type(bus).__module__, fromlist=["MAX_UNACKED"])
    monkeypatch.setattr(module, "MAX_UNACKED", 3)
    for n in range(3):
        await bus.enqueue("inbound", {"n": str(n)})
    with pytest.raises(BusError, match="not yet acknowledged"):
        await bus.enqueue("inbound", {"n": "3"})
    got = await bus.claim("inbound", "workers", "a", count=10, wait=0)
    assert [d.payload["n"] for d in got] == ["0", "1", "2"]  # nothing was lost
