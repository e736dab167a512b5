"""Faults on the carrier side: every submit must end acknowledged or failed with a reason,
and the client itself must never put the same submit on the wire twice."""

import asyncio
from collections import Counter

from kefu.protocols.message import OutMessage

from .conftest import Pair, eventually

PHONE = "13900139000"


def assert_definite(outcomes):
    for o in outcomes:
        assert o.ok == (not o.error), o
        assert o.ok == bool(o.message_ids), o


def assert_no_duplicates(sim):
    counts = Counter(m.text for m in sim.mt_for(PHONE))
    assert not counts or max(counts.values()) == 1, counts


async def submit_many(client, n, prefix):
    return await asyncio.gather(
        *(client.submit(OutMessage(PHONE, f"{prefix}{i}", want_report=False)) for i in range(n))
    )


async def test_drop_mid_window(pair: Pair):
    sim = await pair.start_sim(response_delay=0.2)
    client = await pair.client(backoff_initial=0.02)
    task = asyncio.ensure_future(submit_many(client, 60, "d"))
    await eventually(lambda: sim.stats["submits"] >= 5)  # requests in flight, none answered
    sim.drop_connections()
    sim.config.response_delay = 0
    outcomes = await asyncio.wait_for(task, 20)
    assert_definite(outcomes)
    failed = [o for o in outcomes if not o.ok]
    assert failed and all("connection lost" in o.error for o in failed)
    assert any(o.ok for o in outcomes)  # those queued behind the window went after reconnect
    assert client.stats["connects"] >= 2
    assert_no_duplicates(sim)
    # what the carrier accepted is exactly what was acknowledged plus what was lost in flight
    accepted = {m.text for m in sim.mt_for(PHONE)}
    ok_texts = {f"d{i}" for i, o in enumerate(outcomes) if o.ok}
    assert ok_texts <= accepted
    assert (await client.submit(OutMessage(PHONE, "after drop"))).ok


async def test_responses_later_than_the_timeout(pair: Pair):
    sim = await pair.start_sim(response_delay=1.0)
    client = await pair.client(response_timeout=0.2)
    outcomes = await submit_many(client, 5, "t")
    assert_definite(outcomes)
    assert all(not o.ok and "no response within 0.2s" in o.error for o in outcomes)
    assert sim.stats["submits"] == 5  # each went out once; none was resent after the timeout
    sim.config.response_delay = 0
    await asyncio.sleep(1.0)  # let the late answers arrive; they must be ignored quietly
    assert (await client.submit(OutMessage(PHONE, "on time"))).ok
    assert_no_duplicates(sim)


async def test_throttling_answers_back_off_and_retry(pair: Pair):
    sim = await pair.start_sim(max_tps=100)
    client = await pair.client(throttle_backoff=0.02)
    outcomes = await asyncio.wait_for(submit_many(client, 160, "r"), 30)
    assert_definite(outcomes)
    assert [o.error for o in outcomes if not o.ok] == []
    assert sim.stats["throttled"] > 0 and client.stats["throttled"] == sim.stats["throttled"]
    assert any(o.attempts > 1 for o in outcomes)
    assert sorted(m.text for m in sim.mt_for(PHONE)) == sorted(f"r{i}" for i in range(160))


async def test_simulator_window_throttles(pair: Pair):
    sim = await pair.start_sim(response_delay=0.05, window=2)
    client = await pair.client(window=6, throttle_backoff=0.01)
    outcomes = await asyncio.wait_for(submit_many(client, 30, "w"), 30)
    assert all(o.ok for o in outcomes)
    assert sim.stats["throttled"] > 0 and sim.stats["max_outstanding"] <= 2
    assert_no_duplicates(sim)


async def test_restart_reconnects_and_nothing_is_lost(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client(backoff_initial=0.02, backoff_max=0.1)
    first = await submit_many(client, 10, "a")
    assert all(o.ok for o in first)
    await sim.stop()
    await eventually(lambda: not client.connected)
    pending = asyncio.ensure_future(submit_many(client, 10, "b"))  # queued while down
    await asyncio.sleep(0.2)
    assert not pending.done()
    await sim.start()  # same port
    outcomes = await asyncio.wait_for(pending, 20)
    assert all(o.ok for o in outcomes)
    assert client.stats["connects"] >= 2
    texts = Counter(m.text for m in sim.mt_for(PHONE))
    assert all(texts[f"b{i}"] == 1 for i in range(10))


async def test_unreachable_carrier_fails_with_reason(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client(backoff_initial=0.02, backoff_max=0.05, submit_deadline=0.3)
    await sim.stop()
    await eventually(lambda: not client.connected)
    outcome = await client.submit(OutMessage(PHONE, "nobody home"))
    assert not outcome.ok and "not connected within 0.3s" in outcome.error


async def test_persistent_throttling_ends_with_a_reason():
    pair = Pair("smpp")
    try:
        sim = await pair.start_sim(max_tps=1)
        client = await pair.client(max_attempts=3, throttle_backoff=0.01)
        outcomes = await submit_many(client, 5, "x")
        assert_definite(outcomes)
        failed = [o for o in outcomes if not o.ok]
        assert failed and all(o.error == "still throttled after 3 attempts" for o in failed)
        assert sim.stats["submits"] == len(outcomes) - len(failed)
    finally:
        await pair.close()


async def test_close_fails_submits_waiting_for_a_link(pair: Pair):
    sim = await pair.start_sim()
    client = await pair.client(backoff_initial=0.02, backoff_max=0.05)
    await sim.stop()
    await eventually(lambda: not client.connected)
    waiting = asyncio.ensure_future(client.submit(OutMessage(PHONE, "too late")))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await client.close()
    outcome = await asyncio.wait_for(waiting, 5)
    assert not outcome.ok and outcome.error == "client closed"


async def test_peer_hanging_up_during_bind_fails_fast():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(16)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    from kefu.protocols import smpp

    client = smpp.client("127.0.0.1", port, "kefu", "secret", response_timeout=30,
                         backoff_initial=0.05)  # fmt: skip
    await client.start(wait=False)
    await eventually(lambda: "bind failed: connection lost" in client.last_error, timeout=5)
    await client.close()
    server.close()
