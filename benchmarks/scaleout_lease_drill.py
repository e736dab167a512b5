"""The workers' kill drill (issue 20): two copies of `kefu run workers` (one holds the lease
`workers` and runs the loops and the channels' relays, the other stands by); the active one is
killed with -9 and the time until the standby has taken the lease and started the loops is
measured, on the Redis lease (KEFU_BUS_URL: the dead holder's key lapses after its 15 s ttl)
and on the PostgreSQL advisory lock (no bus: the server frees a dead holder's lock when its
connection drops). Each round the killed copy is started again as the new standby.

During the drill agents' replies wait to be relayed to web chat sessions (a fresh batch each
round, stored just before the kill): every reply must reach its session's transcript exactly
once (twice: relayed by both copies; lost: not relayed --settle s after the kill); the time
from the kill until the last of them is relayed is printed.

    .venv/bin/python benchmarks/scaleout_lease_drill.py \\
        --database-url postgresql://kefu:kefu@127.0.0.1:5432/kefu_bench \\
        --bus-url redis://127.0.0.1:6379/7 --rounds 3

Times are wall-clock under whatever else runs on the machine (the load average is printed
before and after); the Redis figure is bounded by the lease's ttl, not by the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

SITE = {"name": "bank", "origins": ["https://bank.example"], "customer_token_key": "k" * 32}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_workers(db_url: str, bus_url: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, KEFU_ROLE="workers", KEFU_DATABASE_URL=db_url, KEFU_BUS_URL=bus_url,
               PYTHONUNBUFFERED="1",  # the log lines are the clock: written when they happen
               KEFU_SECRET_KEY="drill", KEFU_LOG_LEVEL="INFO",
               KEFU_WEBCHAT_SITES=json.dumps([SITE]))  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "run", "workers", "--no-migrate"], env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def taken(log: Path) -> int:
    """How many times this copy has taken the lease (its log's ``lease_taken`` lines)."""
    return log.read_text(errors="replace").count('"lease_taken"')


def ready(log: Path) -> int:
    """How many times this copy has started (as active or standby)."""
    return log.read_text(errors="replace").count("kefu run workers: role workers")


async def wait_for(check, seconds: float) -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > seconds:
            raise TimeoutError
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def prepare(db_url: str) -> None:
    import asyncpg

    from kefu.config import normalise_database_url
    from kefu.db.migrate import upgrade

    dsn = normalise_database_url(db_url).replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, db_url)


async def add_replies(db_url: str, count: int) -> list[int]:
    """``count`` web chat sessions handed to an agent, each with an agent's reply waiting for
    the relay; returns the replies' message ids."""
    from kefu.channels.webchat.models import WebchatSession
    from kefu.conversations.models import Conversation, Message
    from kefu.db.base import utcnow
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.vocabulary import ConversationStatus, DeliveryState, Direction, SenderType

    engine = make_engine(db_url)
    ids = []
    try:
        async with make_sessionmaker(engine)() as db:
            now = utcnow()
            for i in range(count):
                token = f"drill{time.time_ns()}{i}"[-32:]
                conversation = Conversation(channel="webchat", contact=f"v:{token}",
                                            status=ConversationStatus.OPEN.value)  # fmt: skip
                db.add(conversation)
                await db.flush()
                db.add(WebchatSession(id=token, site="bank", address=f"v:{token}",
                                      conversation_id=conversation.id, locale="zh",
                                      last_seq=0, read_upto=0, csat_requested=False,
                                      created_at=now, last_seen_at=now,
                                      expires_at=now.replace(year=now.year + 1)))  # fmt: skip
                reply = Message(conversation_id=conversation.id, channel="webchat",
                                direction=Direction.OUTBOUND.value,
                                sender_type=SenderType.AGENT.value, body=f"回复 {i}",
                                delivery_state=DeliveryState.ACCEPTED.value)  # fmt: skip
                db.add(reply)
                await db.flush()
                ids.append(reply.id)
            await db.commit()
    finally:
        await engine.dispose()
    return ids


async def relayed(db_url: str, ids: list[int]) -> tuple[int, int]:
    """(lost, twice) of the replies ``ids`` in the web chat transcripts."""
    from sqlalchemy import func, select

    from kefu.channels.webchat.models import WebchatMessage
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = dict(
                (
                    await db.execute(
                        select(WebchatMessage.source_message_id, func.count())
                        .where(WebchatMessage.source_message_id.in_(ids))
                        .group_by(WebchatMessage.source_message_id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    return sum(1 for i in ids if i not in rows), sum(1 for n in rows.values() if n > 1)


async def drill(args: argparse.Namespace, bus_url: str, tmp: Path) -> dict:
    engine = "redis" if bus_url else "postgresql"
    logs = [tmp / f"{engine}-a.log", tmp / f"{engine}-b.log"]
    copies = [start_workers(args.database_url, bus_url, log) for log in logs]
    takeovers, relay_gaps, lost, twice = [], [], 0, 0
    try:
        await wait_for(lambda: sum(taken(log) for log in logs) >= 1, 900)
        await wait_for(lambda: all(ready(log) for log in logs), 900)  # a standby is up
        active = 0 if taken(logs[0]) else 1
        for round_no in range(args.rounds):
            standby = 1 - active
            ids = await add_replies(args.database_url, args.replies)
            before = taken(logs[standby])
            os.killpg(copies[active].pid, signal.SIGKILL)
            copies[active].wait()
            seconds = await wait_for(lambda s=standby, b=before: taken(logs[s]) > b, 120)
            takeovers.append(round(seconds, 2))
            print(f"{engine}: round {round_no + 1}: killed copy {active} (-9); the standby took "
                  f"the lease in {seconds:.2f} s", flush=True)  # fmt: skip
            # Every reply stored before the kill is relayed by the new holder: how long after
            # the kill until the last is in its transcript (lost: still not after --settle s).
            began = time.monotonic() - seconds
            while True:
                round_lost, round_twice = await relayed(args.database_url, ids)
                if not round_lost or time.monotonic() - began > args.settle:
                    break
                await asyncio.sleep(0.5)
            relay_gaps.append(round(time.monotonic() - began, 1))
            print(f"{engine}: round {round_no + 1}: every reply relayed {relay_gaps[-1]} s after "
                  f"the kill; not relayed {round_lost}, twice {round_twice}", flush=True)  # fmt: skip
            lost, twice = lost + round_lost, twice + round_twice
            started = ready(logs[active])
            copies[active] = start_workers(args.database_url, bus_url, logs[active])  # standby
            await wait_for(lambda a=active, n=started: ready(logs[a]) > n, 900)
            active = standby
            await asyncio.sleep(args.restart_wait)
    finally:
        for copy in copies:
            if copy.poll() is None:
                os.killpg(copy.pid, signal.SIGTERM)
                try:
                    copy.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(copy.pid, signal.SIGKILL)
    return {"lease": engine, "takeover_s": takeovers,
            "takeover_median_s": statistics.median(takeovers) if takeovers else None,
            "relayed_all_after_s": relay_gaps, "replies": args.replies * args.rounds,
            "lost": lost, "twice": twice}  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL; emptied first")
    parser.add_argument("--bus-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="redis,postgresql", help="the leases to drill")
    parser.add_argument("--replies", type=int, default=200, help="waiting per round")
    parser.add_argument(
        "--settle",
        type=float,
        default=300.0,
        help="seconds after the kill by which every reply must be in its transcript",
    )
    parser.add_argument(
        "--restart-wait",
        type=float,
        default=5.0,
        help="seconds between the restarted copy's start and the next kill",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lease-drill-"))
    print(f"load average at start: {loadavg()}  (cores: {os.cpu_count()})", flush=True)
    await prepare(args.database_url)
    engines = args.engines.split(",")
    for bus_url in [args.bus_url] * ("redis" in engines) + [""] * ("postgresql" in engines):
        print(json.dumps(await drill(args, bus_url, tmp)), flush=True)
    print(f"load average at end: {loadavg()}  (logs in {tmp})")


if __name__ == "__main__":
    asyncio.run(main())
