"""What migration 0051's autovacuum settings do for the SMS outbox's poll (issue #20).

On a scratch PostgreSQL database (schema public is dropped first, then migrated): a table of
``--base`` delivered messages, vacuumed; then ``--sends`` more messages through the outbox's
states in batches of 50 (insert ``accepted``; claim → ``sent`` → ``delivered``, one UPDATE each,
as the gateway does; the poll runs after each batch as the outbox's does), then up to
``--wait`` seconds for autovacuum to visit the table, then the poll's own plan
(``EXPLAIN (ANALYZE, BUFFERS)``): buffers read to find no ``accepted`` row. Run twice: with the
server's defaults (the table's options RESET) and with the migration's.

    KEFU_BENCH_DATABASE_URL=postgresql://kefu:kefu@127.0.0.1:5432/kefu_h4 \\
        .venv/bin/python benchmarks/outbox_poll_vacuum.py [--base 100000] [--sends 10000]

Autovacuum visits a database once per ``autovacuum_naptime`` (server setting; 1 min by default):
``--wait`` must exceed it (a busy server with many databases may take longer). The figures depend on when autovacuum came by: the point is whether
it came at all before the poll was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

POLL = "SELECT id FROM sms_messages WHERE state = 'accepted' AND link = 'cmpp' ORDER BY id LIMIT 50"
OPTIONS = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor"
)
INSERT = (
    "INSERT INTO sms_messages (direction, link, phone, service_number, text, kind, state, "
    "attempts, parts, meta, created_at) "
    "SELECT 'out', 'cmpp', '1380000' || lpad(g::text, 4, '0'), '95555', '您的验证码 123456', "
    "'otp', $1, 1, 1, '{}', now() FROM generate_series(1, $2) g RETURNING id"
)


async def poll_buffers(conn) -> dict[str, float]:  # type: ignore[no-untyped-def]
    plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {POLL}")
    top = json.loads(plan)[0]
    node = top["Plan"]
    return {
        "buffers": node.get("Shared Hit Blocks", 0) + node.get("Shared Read Blocks", 0),
        "ms": round(top["Execution Time"], 2),
    }


async def run(dsn: str, mode: str, base: int, sends: int, wait: float) -> dict:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE sms_messages RESTART IDENTITY CASCADE")
        if mode == "migration":
            # Migration 0051's own statement and values.
            from importlib import import_module

            mig = import_module("kefu.db.migrations.versions.0051_outbox_autovacuum")
            values = ", ".join(f"{k} = {v}" for k, v in mig.SETTINGS.items())
            await conn.execute(f"ALTER TABLE sms_messages SET ({values})")
        else:
            await conn.execute(f"ALTER TABLE sms_messages RESET ({OPTIONS})")
        await conn.execute(INSERT.replace("RETURNING id", ""), "delivered", base)
        await conn.execute("VACUUM ANALYZE sms_messages")
        # The statistics outlive TRUNCATE: what counts is whether autovacuum came by again.
        runs = await conn.fetchval(
            "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'sms_messages'"
        )
        started = time.monotonic()
        for _ in range(sends // 50):
            async with conn.transaction():
                ids = [r["id"] for r in await conn.fetch(INSERT, "accepted", 50)]
            await conn.fetch(POLL)
            for state in ("sending", "sent", "delivered"):
                await conn.execute(
                    "UPDATE sms_messages SET state = $1 WHERE id = ANY($2::int[])", state, ids
                )
        sent_in = time.monotonic() - started
        count = "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'sms_messages'"
        before = await poll_buffers(conn)
        deadline = time.monotonic() + wait
        vacuumed = None
        while time.monotonic() < deadline:
            vacuumed = await conn.fetchval(count) > runs
            if vacuumed:
                break
            await asyncio.sleep(2)
        dead = await conn.fetchval(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'sms_messages'"
        )
        after = await poll_buffers(conn)
        return {
            "mode": mode,
            "sends_s": round(sent_in, 1),
            "poll_right_after_sends": before,
            "autovacuumed": bool(vacuumed),
            "dead_rows_then": dead,
            "poll_after_wait": after,
        }
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults: 30,000 dead rows stay under the defaults' 20 % (40,050), over the migration's
    # 1 % + 1,000 (3,100); the inserts stay under the insert-triggered vacuum's 20 %.
    parser.add_argument("--base", type=int, default=200_000)
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--wait", type=float, default=150.0)
    args = parser.parse_args()
    url = os.environ.get("KEFU_BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        sys.exit("set KEFU_BENCH_DATABASE_URL to a scratch PostgreSQL database")
    from kefu.db.migrate import upgrade

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def reset() -> None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())
    upgrade(url)
    print("load before:", os.getloadavg())
    for mode in ("defaults", "migration"):
        print(json.dumps(asyncio.run(run(dsn, mode, args.base, args.sends, args.wait))))
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
