"""The client's window: a freed slot goes to the longest waiter, and a waiter cancelled
around the hand-over neither leaks a slot nor takes one."""

from __future__ import annotations

import asyncio

import pytest

from kefu.protocols.client import Window


async def test_slots_pass_in_order_and_never_exceed_the_size() -> None:
    window = Window(2)
    assert window.try_take() and window.try_take()
    assert not window.try_take()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await window.take()
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep(0)
    window.give()
    await asyncio.sleep(0)
    assert order == [0] and window.free == 0
    window.give()
    window.give()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2] and window.free == 0
    window.give()
    window.give()
    assert window.free == 2


async def test_cancelled_waiter_passes_a_handed_slot_on() -> None:
    window = Window(1)
    assert window.try_take()
    first = asyncio.create_task(window.take())
    second = asyncio.create_task(window.take())
    await asyncio.sleep(0)
    window.give()  # handed to ``first`` ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)  # the slot went on to the next waiter
    assert window.free == 0


async def test_cancelled_waiter_leaves_the_queue() -> None:
    window = Window(1)
    assert window.try_take()
    waiting = asyncio.create_task(window.take())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    window.give()
    assert window.free == 1 and window.try_take()
