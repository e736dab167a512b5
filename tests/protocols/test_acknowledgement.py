"""A delivery is acknowledged only once the application has kept it; what the application
did not keep, the carrier delivers again on the next bind (as a real SMSC does)."""

from __future__ import annotations

import asyncio

import pytest

from kefu.protocols.message import Inbound, OutMessage

from .conftest import Pair, eventually

# SGIP delivers over the SP's own listener, which acknowledges at once (see docs/protocols.md).
PROTOCOLS = ["smpp", "cmpp2", "cmpp3", "smgp"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_unkept_report_is_delivered_again_after_a_reconnect(protocol: str) -> None:
    pair = Pair(protocol)
    try:
        sim = await pair.start_sim()
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seen: list[Inbound] = []

        def hold(item: Inbound) -> asyncio.Future[None]:
            seen.append(item)
            return never  # the application never confirms it kept the report

        first = await pair.client(on_inbound=hold)
        out = await first.submit(OutMessage("13800138000", "report me", source="95511"))
        assert out.ok
        await eventually(lambda: seen)
        assert sum(len(s.unacked) for s in sim.sessions) == 1  # with the SP, unacknowledged
        await first.close()

        kept: list[Inbound] = []
        second = await pair.client(on_inbound=lambda item: kept.append(item))
        await eventually(lambda: kept)
        assert kept[0].kind == "report" and kept[0].message_id == seen[0].message_id
        await eventually(lambda: not any(s.unacked for s in sim.sessions))
        assert second.connected
    finally:
        await pair.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_kept_mo_is_acknowledged_and_not_delivered_again(protocol: str) -> None:
    pair = Pair(protocol)
    try:
        sim = await pair.start_sim()
        got: list[Inbound] = []

        async def keep(item: Inbound) -> None:
            await asyncio.sleep(0.05)  # the application's commit
            got.append(item)

        client = await pair.client(on_inbound=keep)
        await sim.inject_mo("13800138000", "95511", "YE")
        await eventually(lambda: got)
        await eventually(lambda: not any(s.unacked for s in sim.sessions))
        await client.close()
        again: list[Inbound] = []
        await pair.client(on_inbound=lambda item: again.append(item))
        await asyncio.sleep(0.3)
        assert again == [] and not sim.pending_mo
    finally:
        await pair.close()


@pytest.mark.parametrize("protocol", ["smpp", "cmpp3"])
async def test_failures_say_whether_a_resend_is_safe(protocol: str) -> None:
    pair = Pair(protocol)
    try:
        sim = await pair.start_sim()
        client = await pair.client(submit_deadline=0.5)
        await sim.stop()  # the carrier goes away
        await eventually(lambda: not client.connected)
        out = await client.submit(OutMessage("13800138000", "later", source="95511"))
        assert not out.ok and out.failure == "unsent"  # never written: safe to send again
    finally:
        await pair.close()
