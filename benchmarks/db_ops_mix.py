"""Database operations/s of kefu's real mix on one PostgreSQL (#20: "the study's figure",
100,000 users, 30,000 ops/s).

The mix is what ``benchmarks/db_ops_capture.py`` recorded from kefu's own engines per message
(figures in docs/deploy.md): a WeChat text answered by self-service and an SMS API send with its
delivery report. ``WECHAT`` and ``SMS`` below replay those statements — the same tables,
indexes, columns and predicates, the same reads/writes and transaction boundaries per message —
with pgbench over kefu's migrated schema seeded for ``--users`` people (followers, bound
identities, dialog sessions, contacts, consents) and ``--history`` messages each of
history (WeChat inbound rows, self-service turns, SMS rows and carrier ids). One pgbench
transaction is one message (its BEGIN…COMMITs inside); ops are the reads and writes (not
BEGIN/COMMIT/SAVEPOINT), as the study counts them.

Then the same scripts through kefu's Python path (SQLAlchemy async Core on asyncpg, kefu's
engine settings), in one process: what the database can do vs what one kefu process asks of it.
And a what-if: ``synchronous_commit=off`` (a commit no longer waits for its WAL flush), only
to name the bottleneck — kefu does not ship it.

    KEFU_BENCH_DATABASE_URL=postgresql://kefu:kefu@127.0.0.1:5432/kefu_h5 \\
        .venv/bin/python benchmarks/db_ops_mix.py [--users 100000] [--history 3] \\
        [--clients 1,8,16,32,64] [--seconds 10] [--repeat 3] [--skip-prepare]

The database is wiped (schema public dropped) first: give it a scratch database. Loopback only.
Figures are medians of ``--repeat`` runs, with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# One WeChat text from a bound follower, answered by self-service (captured: 14.4 reads, 6
# writes, 2 savepoint statements; 2 committing and ~3.6 read-only transactions per message;
# the bank core's 5 statements are the bank's system, not here). Keys of new rows are random
# (1e12) so concurrent clients never collide; ON CONFLICT keeps a rare repeat harmless.
WECHAT = r"""
\set u random(1, :users)
\set k random(1, 1000000000000)
BEGIN;
SELECT id, account, openid, subscribed, scene, subscribed_at, unsubscribed_at, last_inbound_at FROM wechat_followers WHERE account = 'bank' AND openid = 'o' || :u;
SELECT id, kind, value, customer_id, bound_at FROM channel_identities WHERE kind = 'wechat_openid' AND value = 'o' || :u;
SELECT customer_id, id, kind, value, bound_at FROM channel_identities WHERE customer_id IN (:u);
INSERT INTO wechat_inbound (account, dedupe_key, openid, msg_type, event, content, message, state, deliveries, error, received_at, answered_at) VALUES ('bank', 'm' || :k, 'o' || :u, 'text', NULL, '余额多少', '{}'::json, 'received', 0, NULL, now(), NULL) ON CONFLICT (account, dedupe_key) DO UPDATE SET deliveries = wechat_inbound.deliveries + 1 RETURNING id AS inbound \gset
INSERT INTO wechat_followers (account, openid, subscribed, subscribed_at) VALUES ('bank', 'o' || :u, true, now()) ON CONFLICT DO NOTHING RETURNING id;
UPDATE wechat_followers SET last_inbound_at = now() WHERE account = 'bank' AND openid = 'o' || :u;
COMMIT;
BEGIN;
SELECT id, account, openid, subscribed, scene, subscribed_at, unsubscribed_at, last_inbound_at FROM wechat_followers WHERE account = 'bank' AND openid = 'o' || :u;
SELECT id, kind, value, customer_id, bound_at FROM channel_identities WHERE kind = 'wechat_openid' AND value = 'o' || :u;
SELECT customer_id, id, kind, value, bound_at FROM channel_identities WHERE customer_id IN (:u);
ROLLBACK;
BEGIN;
SELECT c.id, c.channel, c.customer_id, c.contact, c.status, c.priority, c.subject, c.intent, c.assigned_agent_id, c.updated_at, c.closed_at, c.created_at, t.state, t.queue FROM conversations c LEFT OUTER JOIN routing_tasks t ON t.conversation_id = c.id WHERE c.channel = 'wechat' AND c.contact = 'o' || :u AND c.status != 'closed' ORDER BY c.updated_at DESC LIMIT 1;
SELECT id, conversation_id, agent_id, channel, contact, state, asked_at, expires_at FROM csat_surveys WHERE channel = 'wechat' AND contact = 'o' || :u AND state IN ('asked', 'commented') ORDER BY asked_at DESC, id DESC LIMIT 1;
SELECT id, channel, contact, awaiting, state, turns, updated_at FROM dialog_sessions WHERE channel = 'wechat' AND contact = 'o' || :u;
INSERT INTO dialog_sessions (channel, contact, awaiting, state, turns, updated_at) VALUES ('wechat', 'o' || :u, NULL, '{}'::json, 1, now()) ON CONFLICT (channel, contact) DO UPDATE SET turns = dialog_sessions.turns + 1, updated_at = now() RETURNING id;
SAVEPOINT sa_savepoint_1;
SELECT value FROM channel_identities WHERE customer_id = :u AND kind = 'wechat_openid';
RELEASE SAVEPOINT sa_savepoint_1;
SELECT misreads FROM messaging_contacts WHERE channel = 'wechat' AND address = 'o' || :u;
SELECT at, session_at FROM kpi_selfservice_turns WHERE customer = 'C' || :u AND at <= now() AND at >= now() - interval '30 minutes' ORDER BY at DESC LIMIT 1;
INSERT INTO kpi_selfservice_turns (at, channel, intent, answered, customer, session_at, handed_off) VALUES (now(), 'wechat', 'balance', true, 'C' || :u, now(), false) RETURNING id;
UPDATE wechat_inbound SET state = 'answered', answer = '{}'::json, answered_at = now() WHERE id = :inbound AND state = 'received';
SELECT phone FROM marketing_consents WHERE phone IN ('138' || lpad(CAST(:u AS text), 8, '0')) AND kind = 'marketing' AND withdrawn_at IS NULL;
COMMIT;
BEGIN;
SELECT id, conversation_id, channel, direction, sender_type, body, delivery_state, created_at FROM messages WHERE conversation_id = :u ORDER BY created_at DESC, id DESC LIMIT 20;
ROLLBACK;
BEGIN;
SELECT id, kind, status, title, category, latest_version, published_version FROM kb_entries WHERE status = 'published' ORDER BY id LIMIT 1;
ROLLBACK;
"""

# One SMS API send (one recipient) until its delivery report is stored (captured: 13.8 reads,
# 6.6 writes; ~7.2 committing and 1.2 read-only transactions per message, the gateway's outbox
# polls included; the API key's read is cached, 0.2 a message, left out).
SMS = r"""
\set u random(1, :users)
\set k random(1, 1000000000000)
BEGIN;
SELECT fingerprint FROM idempotency_keys WHERE scope = 'sms:' || :k;
SELECT pg_advisory_xact_lock(:k);
SELECT fingerprint FROM idempotency_keys WHERE scope = 'sms:' || :k;
INSERT INTO idempotency_keys (scope, fingerprint, created_at) VALUES ('sms:' || :k, 'f', now()) ON CONFLICT (scope) DO NOTHING;
SELECT dedupe_key FROM sms_messages WHERE dedupe_key IN ('api:' || :k);
SELECT phone, sum(CASE WHEN created_at >= now() - interval '1 day' THEN 1 ELSE 0 END), count(*) FROM sms_messages WHERE phone IN ('138' || lpad(CAST(:u AS text), 8, '0')) AND direction = 'out' AND created_at >= now() - interval '7 days' GROUP BY phone;
INSERT INTO sms_messages (direction, link, phone, service_number, text, kind, state, dedupe_key, attempts, parts, meta, created_at) VALUES ('out', NULL, '138' || lpad(CAST(:u AS text), 8, '0'), '95555', '您的3月账单已出，应还¥1,234.56。', 'notification', 'queued', 'api:' || :k, 0, 1, '{}'::json, now()) ON CONFLICT (dedupe_key) DO UPDATE SET attempts = sms_messages.attempts RETURNING id AS sms \gset
SELECT dedupe_key, id, state FROM sms_messages WHERE dedupe_key IN ('api:' || :k);
COMMIT;
BEGIN;
SELECT id FROM sms_messages WHERE state = 'queued' AND link = 'smsc' ORDER BY id LIMIT 50;
SELECT id FROM sms_messages WHERE state = 'queued' AND (link NOT IN ('smsc') OR link IS NULL) ORDER BY id LIMIT 50;
UPDATE sms_messages SET state = 'sending', attempts = attempts + 1, lease_until = now() + interval '30 seconds', sender = 'bench', submitted_at = NULL WHERE id IN (:sms) AND state = 'queued' RETURNING id, phone, text;
COMMIT;
BEGIN;
SELECT id, direction, link, phone, service_number, text, kind, state, dedupe_key, attempts FROM sms_messages WHERE id = :sms;
ROLLBACK;
BEGIN;
UPDATE sms_messages SET submitted_at = now() WHERE id IN (:sms) AND state = 'sending' AND sender = 'bench' RETURNING id;
COMMIT;
BEGIN;
UPDATE sms_messages SET state = 'sent', error = NULL, lease_until = now() + interval '60 seconds', sent_at = now(), parts = 1 WHERE id = :sms AND (state = 'sending' OR state = 'unknown') AND sender = 'bench';
INSERT INTO sms_carrier_ids (link, carrier_id, message_id, exact) VALUES ('smsc', 'c' || :k, :sms, true) ON CONFLICT (link, carrier_id) DO UPDATE SET message_id = excluded.message_id, exact = excluded.exact WHERE excluded.exact;
COMMIT;
BEGIN;
SELECT id FROM sms_messages WHERE state = 'queued' AND link = 'smsc' ORDER BY id LIMIT 50;
SELECT id FROM sms_messages WHERE state = 'queued' AND (link NOT IN ('smsc') OR link IS NULL) ORDER BY id LIMIT 50;
COMMIT;
BEGIN;
SELECT ci.link, ci.carrier_id, ci.message_id, m.phone, m.meta, m.kind, m.sender FROM sms_carrier_ids ci JOIN sms_messages m ON m.id = ci.message_id WHERE ci.link = 'smsc' AND ci.carrier_id = 'c' || :k;
UPDATE sms_messages SET state = 'delivered', lease_until = NULL, delivered_at = now(), meta = '{"report": "DELIVRD"}'::json, sender = NULL WHERE id = :sms;
COMMIT;
BEGIN;
SELECT id, conversation_id, channel, direction, body, delivery_state, created_at FROM messages WHERE conversation_id = :u ORDER BY created_at DESC, id DESC LIMIT 20;
SELECT id, conversation_id, channel, direction, body, delivery_state, created_at FROM messages WHERE conversation_id = :u + 1 ORDER BY created_at DESC, id DESC LIMIT 20;
COMMIT;
"""

SCRIPTS = {"wechat": WECHAT, "sms": SMS}
TRANSACTION_WORDS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(script: str) -> list[str]:
    return [line for line in script.strip().splitlines() if line and not line.startswith("\\")]


def ops_of(script: str) -> int:
    """Reads and writes of one run of the script (one message)."""
    return sum(1 for s in statements(script) if not s.startswith(TRANSACTION_WORDS))


def transactions_of(script: str) -> int:
    return sum(1 for s in statements(script) if s.startswith(("COMMIT", "ROLLBACK")))


def reads_writes(script: str) -> tuple[int, int]:
    ops = [s for s in statements(script) if not s.startswith(TRANSACTION_WORDS)]
    writes = sum(1 for s in ops if s.startswith(("INSERT", "UPDATE", "DELETE")))
    return len(ops) - writes, writes


# ------------------------------------------------------------------------------- the data
SEED = """
INSERT INTO customers (id, bank_customer_no, tier, region, created_at)
  SELECT g, 'C' || g, 'standard', '440300', now() FROM generate_series(1, {users}) g;
INSERT INTO wechat_followers (account, openid, subscribed, subscribed_at, last_inbound_at)
  SELECT 'bank', 'o' || g, true, now() - interval '90 days', now() - interval '1 day'
  FROM generate_series(1, {users}) g;
INSERT INTO channel_identities (kind, value, customer_id, bound_at)
  SELECT 'wechat_openid', 'o' || g, g, now() FROM generate_series(1, {users}) g;
INSERT INTO channel_identities (kind, value, customer_id, bound_at)
  SELECT 'phone', '138' || lpad(g::text, 8, '0'), g, now() FROM generate_series(1, {users}) g;
INSERT INTO dialog_sessions (channel, contact, awaiting, state, turns, updated_at)
  SELECT 'wechat', 'o' || g, NULL, '{{}}'::json, 3, now() - interval '1 day'
  FROM generate_series(1, {users}, 2) g;
INSERT INTO messaging_contacts (channel, address, misreads, updated_at)
  SELECT 'wechat', 'o' || g, 0, now() FROM generate_series(1, {users}, 5) g;
INSERT INTO marketing_consents (phone, customer_id, kind, source, given_at, recorded_by)
  SELECT '138' || lpad(g::text, 8, '0'), g, 'marketing', 'branch', now(), 'seed'
  FROM generate_series(1, {users}, 3) g;
INSERT INTO wechat_inbound (account, dedupe_key, openid, msg_type, content, state, deliveries,
                            received_at, answered_at, message)
  SELECT 'bank', 'h' || g, 'o' || (g % {users} + 1), 'text', '余额多少', 'answered', 1,
         now() - (g % 10000) * interval '1 minute', now(), '{{}}'::json
  FROM generate_series(1, {users} * {history}) g;
INSERT INTO kpi_selfservice_turns (at, channel, intent, answered, customer, session_at,
                                   handed_off)
  SELECT now() - (g % 20000) * interval '1 minute', 'wechat', 'balance', true,
         'C' || (g % {users} + 1), now() - (g % 20000) * interval '1 minute', false
  FROM generate_series(1, {users} * {history}) g;
INSERT INTO sms_messages (direction, link, phone, service_number, text, kind, state, dedupe_key,
                          attempts, parts, meta, created_at, sent_at, delivered_at)
  SELECT 'out', 'smsc', '138' || lpad((g % {users} + 1)::text, 8, '0'), '95555', '账单已出',
         'notification', 'delivered', 'seed:' || g, 1, 1, '{{}}'::json,
         now() - (g % 20000) * interval '1 minute', now(), now()
  FROM generate_series(1, {users} * {history}) g;
INSERT INTO sms_carrier_ids (link, carrier_id, message_id, exact)
  SELECT 'smsc', 's' || id, id, true FROM sms_messages;
INSERT INTO idempotency_keys (scope, fingerprint, created_at)
  SELECT 'sms:seed:' || g, 'f', now() FROM generate_series(1, {users} * {history}) g;
ANALYZE;
"""


async def prepare(url: str, users: int, history: int) -> None:
    import asyncpg

    from kefu.db.migrate import upgrade

    conn = await asyncpg.connect(_plain(url))
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await conn.close()
    await asyncio.to_thread(upgrade, url)  # kefu's own schema and indexes
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(SEED.format(users=users, history=history))
        rows = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"seeded {users:,} users × {history} messages of history: database {rows}")
    finally:
        await conn.close()


def _plain(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


# ------------------------------------------------------------------------------- pgbench
def pgbench(url: str, mix: list[str], clients: int, seconds: int, users: int,
            scripts_dir: Path, synchronous_commit: str = "on") -> dict[str, Any]:  # fmt: skip
    """One pgbench run: messages (script runs) per second, from its own report."""
    parts = urlsplit(_plain(url))
    env = {**os.environ, "PGPASSWORD": parts.password or "",
           "PGOPTIONS": f"-c synchronous_commit={synchronous_commit}"}  # fmt: skip
    args = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
            "-T", str(seconds), "-D", f"users={users}", "-h", parts.hostname or "127.0.0.1",
            "-p", str(parts.port or 5432), "-U", parts.username or "kefu"]  # fmt: skip
    for name in mix:
        args += ["-f", f"{scripts_dir / name}.sql@1"]
    args.append(parts.path.lstrip("/"))
    vacuum(url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wal = _wal(url)
    running = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    server = _server_cpu(url, running, seconds)
    out, err = running.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if running.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{err[-2000:]}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"number of failed transactions: (\d+)", out)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    cpu_seconds, window, waits = server
    return {"messages": tps, "failed": float(failed.group(1)) if failed else 0.0, "waits": waits,
            "poll_buffers": poll_buffers(url),
            "client_cpu_per_message_ms": 1000 * client_cpu / max(total, 1),
            "server_cpu_per_message_ms": 1000 * cpu_seconds / max(tps * window, 1),
            "wal_bytes_per_message": (_wal(url) - wal) / max(total, 1)}  # fmt: skip


def _psql(url: str, sql: str) -> str:
    parts = urlsplit(_plain(url))
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    return subprocess.run(
        ["psql", "-Atc", sql, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
         "-U", parts.username or "kefu", parts.path.lstrip("/")],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def _wal(url: str) -> int:
    return int(_psql(url, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


def _cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (/proc, clock ticks)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _server_cpu(url: str, running: subprocess.Popen[str],
                seconds: int) -> tuple[float, float, Counter[str]]:  # fmt: skip
    """CPU seconds the PostgreSQL backends serving pgbench used over the middle of the run
    (from 20 % to 90 % of it: connections open, steady state), that window's length, and
    what those backends were doing, sampled twice a second (``pg_stat_activity``): running
    (CPU), waiting for pgbench's next statement (the client's turn), or a named wait (WAL
    flush, a lock, I/O)."""
    time.sleep(seconds * 0.2)
    pids = [int(p) for p in _psql(url, "SELECT pid FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND application_name = 'pgbench'"
                                  ).split()]  # fmt: skip
    began, cpu = time.monotonic(), _cpu_of(pids)
    waits: Counter[str] = Counter()
    while time.monotonic() - began < seconds * 0.7 - 0.5 and running.poll() is None:
        waits.update(_psql(url, WAITS).split())
        time.sleep(0.5)
    used, window = _cpu_of(pids) - cpu, time.monotonic() - began
    if running.poll() is not None:  # finished before the window closed: no steady figure
        return 0.0, 1.0, waits
    return used, window, waits


WAITS = """SELECT CASE
  WHEN state = 'active' AND wait_event IS NULL THEN 'running'
  WHEN wait_event_type = 'Client' OR state LIKE 'idle%' THEN 'client'
  ELSE wait_event_type || ':' || wait_event END
FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgbench'"""

# The SMS outbox's poll (kefu.channels.sms.outbox): its cost grows with the dead entries of
# ix_sms_messages_state_id between two vacuums (rows leave 'queued' at every send).
POLL = (
    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM sms_messages WHERE state = "
    "'queued' AND (link NOT IN ('smsc') OR link IS NULL) ORDER BY id LIMIT 50"
)


def poll_buffers(url: str) -> int:
    import json

    plan = json.loads(_psql(url, POLL))[0]["Plan"]
    return int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])


def vacuum(url: str) -> None:
    """Every run starts from the same table state (autovacuum comes at most once a minute)."""
    _psql(url, "VACUUM sms_messages, wechat_inbound, wechat_followers, dialog_sessions, "
               "kpi_selfservice_turns, idempotency_keys, sms_carrier_ids")  # fmt: skip


# ------------------------------------------------------------------------ kefu's Python path
@dataclass
class Step:
    sql: str
    gset: bool = False


def parse(script: str) -> tuple[dict[str, tuple[str, str]], list[Step]]:
    """The script as kefu's path runs it: ``\\set`` ranges and the statements in order."""
    sets: dict[str, tuple[str, str]] = {}
    steps: list[Step] = []
    for line in script.strip().splitlines():
        found = re.match(r"\\set (\w+) random\(([^,]+), ([^)]+)\)", line)
        if found:
            sets[found.group(1)] = (found.group(2).strip(), found.group(3).strip())
        elif line:
            gset = line.endswith("\\gset")
            steps.append(Step(line.removesuffix("\\gset").rstrip().rstrip(";"), gset))
    return sets, steps


async def run_once(conn: Any, script: str, users: int, rng: random.Random) -> None:
    """One message through SQLAlchemy async Core on asyncpg, as kefu's sessions send it:
    BEGIN/COMMIT/SAVEPOINT through the connection's transaction API, each statement a
    ``text()`` with bound parameters (asyncpg prepares and caches them)."""
    from sqlalchemy import text

    sets, steps = parse(script)
    values: dict[str, Any] = {}
    for name, (low, high) in sets.items():
        bound = {":users": users}
        values[name] = rng.randint(int(bound.get(low, low)), int(bound.get(high, high)))
    transaction = nested = None
    for step in steps:
        head = step.sql.split(None, 1)[0]
        if head == "BEGIN":
            transaction = await conn.begin()
        elif head in ("COMMIT", "ROLLBACK"):
            await (transaction.commit() if head == "COMMIT" else transaction.rollback())
        elif head == "SAVEPOINT":
            nested = await conn.begin_nested()
        elif head == "RELEASE":
            await nested.commit()
        else:
            sql = step.sql
            names = set(re.findall(r"(?<!:):(\w+)", sql))
            params = {n: (str(values[n]) if _as_text(sql, n) else values[n]) for n in names}
            result = await conn.execute(text(sql), params)
            if step.gset:
                row = result.mappings().one()
                values.update({k: int(v) for k, v in row.items()})


def _as_text(sql: str, name: str) -> bool:
    """Parameters concatenated into strings go as text (asyncpg binds by the server's type)."""
    return bool(re.search(rf"\|\| :{name}\b|CAST\(:{name} AS text\)", sql))


async def python_path(url: str, mix: list[str], clients: int, seconds: float,
                      users: int) -> dict[str, float]:  # fmt: skip
    from kefu.db.engine import make_engine

    engine = make_engine(url)  # kefu's engine and pool settings
    done = 0
    deadline = time.monotonic() + seconds
    cpu = time.process_time()

    async def client(n: int) -> None:
        nonlocal done
        rng = random.Random(n)
        while time.monotonic() < deadline:
            # A connection from kefu's pool per message, as a request's session takes one
            # (its pre-ping included); past the pool's 20, clients queue as kefu's would.
            async with engine.connect() as conn:
                await run_once(conn, SCRIPTS[mix[done % len(mix)]], users, rng)
            done += 1

    try:
        began = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.monotonic() - began
    finally:
        await engine.dispose()
    cpu = time.process_time() - cpu
    return {"messages": done / elapsed, "cpu_per_message_ms": 1000 * cpu / max(done, 1)}


# ------------------------------------------------------------------------------ the report
def _cpu_note(runs: list[dict[str, Any]], ops: float) -> str:
    """CPU per message on each side and what one core of the server does (ops per CPU-second:
    the figure that does not depend on the other work sharing the machine)."""
    server = median(r["server_cpu_per_message_ms"] for r in runs)
    client = median(r["client_cpu_per_message_ms"] for r in runs)
    wal = median(r["wal_bytes_per_message"] for r in runs)
    per_core = ops * 1000 / server if server else float("nan")
    waits: Counter[str] = sum((r["waits"] for r in runs), Counter())
    seen = sum(waits.values()) or 1
    doing = ", ".join(f"{k} {100 * n / seen:.0f} %" for k, n in waits.most_common(4))
    polled = median(r["poll_buffers"] for r in runs)
    return (f"server CPU {server:.2f} ms/message = {per_core:,.0f} ops per core-second; "
            f"pgbench CPU {client:.2f} ms/message; WAL {wal / 1024:.1f} KiB/message "
            f"(the whole server's); backends: {doing}; outbox poll after the run: "
            f"{polled:,.0f} buffers")  # fmt: skip


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=3)
    parser.add_argument("--clients", default="1,8,16,32,64")
    parser.add_argument("--python-clients", default="1,8,32")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mix", default="wechat,sms", help="scripts, run in equal shares")
    parser.add_argument("--skip-prepare", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("KEFU_BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql") or urlsplit(_plain(url)).hostname not in (
        "127.0.0.1", "localhost", "::1"):  # fmt: skip
        raise SystemExit("KEFU_BENCH_DATABASE_URL: a scratch PostgreSQL database on loopback")
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench not found (Debian: postgresql-contrib / postgresql-client)")
    mix = args.mix.split(",")
    ops = sum(ops_of(SCRIPTS[m]) for m in mix) / len(mix)
    txns = sum(transactions_of(SCRIPTS[m]) for m in mix) / len(mix)
    for name in mix:
        r, w = reads_writes(SCRIPTS[name])
        print(f"{name}: {r} reads + {w} writes, {transactions_of(SCRIPTS[name])} transactions "
              "per message")  # fmt: skip
    if not args.skip_prepare:
        asyncio.run(prepare(url, args.users, args.history))
    scripts_dir = Path(tempfile.mkdtemp(prefix="kefu-dbmix-"))
    for name in mix:
        (scripts_dir / f"{name}.sql").write_text(SCRIPTS[name].strip() + "\n")

    def row(label: str, runs: list[dict[str, Any]], extra: str = "") -> None:
        msgs = median(r["messages"] for r in runs)
        spread = f"{min(r['messages'] for r in runs):,.0f}–{max(r['messages'] for r in runs):,.0f}"
        print(f"| {label} | {msgs * ops:,.0f} | {msgs * txns:,.0f} | {msgs:,.0f} ({spread}) "
              f"| {extra} |")  # fmt: skip

    print(f"\nload before: {load()}; mix {'+'.join(mix)}: {ops:g} ops and {txns:g} "
          f"transactions per message; {args.seconds} s a run, median of {args.repeat}")  # fmt: skip
    print("| run | ops/s | transactions/s | messages/s (min–max) | |")
    print("|---|---|---|---|---|")
    for clients in [int(c) for c in args.clients.split(",")]:
        runs = [pgbench(url, mix, clients, args.seconds, args.users, scripts_dir)
                for _ in range(args.repeat)]  # fmt: skip
        row(f"pgbench, {clients} clients", runs, _cpu_note(runs, ops))
    best = max(int(c) for c in args.clients.split(","))
    chosen = min(32, best)
    runs = [pgbench(url, mix, chosen, args.seconds, args.users, scripts_dir, "off")
            for _ in range(args.repeat)]  # fmt: skip
    row(f"pgbench, {chosen} clients, synchronous_commit=off (what-if)", runs, _cpu_note(runs, ops))
    for clients in [int(c) for c in args.python_clients.split(",")]:
        runs = [asyncio.run(python_path(url, mix, clients, args.seconds, args.users))
                for _ in range(args.repeat)]  # fmt: skip
        cpu = median(r["cpu_per_message_ms"] for r in runs)
        row(f"kefu's path (SQLAlchemy async + asyncpg, 1 process), {clients} clients", runs,
            f"process CPU {cpu:.2f} ms/message")  # fmt: skip
    print(f"load after: {load()}")
    shutil.rmtree(scripts_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
