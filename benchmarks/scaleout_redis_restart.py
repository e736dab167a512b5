"""Redis restarted under load (issue 20), with and without persistence: what degrades while it
is down, whether the bus, the shared limits and the workers' lease come back, and whether any
accepted work is lost or done twice.

Each run starts the one-machine cluster (scripts/cluster.sh: its own PostgreSQL and Redis,
`kefu serve --workers 2` behind nginx, `kefu run workers`, `kefu run sms` on an SMPP
simulator) and a second `kefu run workers` as the standby, on an empty database, then offers
for ``--seconds``:

- SMS API sends by one partner (one recipient each, ``--offered``/s against its configured
  ``--rate``/s, burst ``--burst``): the partner's bucket is shared through Redis by the two
  web processes (while Redis is down each process has its own: the documented bound is
  processes × rate);
- a conversation handed to routing every second (``POST /api/v1/conversations``, an admin
  key): each is a write that signals the workspace's live pages;
- ``--pages`` open workspace live pages (``/workspace/events``, an agent's key, through
  nginx): the time from each write's request to each page's ``changed`` is its latency;
- an agent's reply to a web chat session every 2 s, written to the database for the web
  chat relay (run by the lease holder of `kefu run workers`).

Redis is killed with -9 at ``--kill-at`` s and started again at ``--restart-at`` s
(`scripts/cluster.sh kill redis` / `restart redis`; KEFU_CLUSTER_REDIS_AOF=yes|no); with
``--fault stop`` it is stopped (SIGSTOP: connections stay open, nothing answers) and resumed. Printed
per phase (before / Redis down / after the restart): SMS answers by status (202, 429, 503,
500, other, timeout) and the admitted rate against the configured one; live-page latency
p50/p95; then the time after the restart until the lease was held again and until every page
was back on signals (the web processes' ``live_stream_signals`` log lines), and at the end,
after up to ``--settle`` s: every accepted SMS in the outbox and sent (lost: not stored, or
not sent; twice: the simulator got more submits than messages), every conversation stored,
every reply relayed exactly once.

    .venv/bin/python benchmarks/scaleout_redis_restart.py --runs 3
        [--scenarios aof,noaof] [--offered 30] [--rate 10] [--pages 4] [--seconds 60]

Ports and the cluster's directory come from KEFU_CLUSTER_* (as scripts/cluster.sh reads them);
the cluster is stopped and its directory removed after each run. Times are wall-clock under
whatever else runs on the machine: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))
from protocols_throughput import Simulator  # noqa: E402
from scaleout_lease_drill import SITE, add_replies, relayed  # noqa: E402

CLUSTER = str(ROOT / "scripts" / "cluster.sh")
KEFU = [sys.executable, "-m", "kefu.cli"]
PHASES = ("before", "down", "after")
WEB_PROCESSES = 2  # kefu serve --workers 2: while Redis is down, each its own bucket


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


class Cluster:
    """scripts/cluster.sh with this drill's ports, and the settings every kefu process gets."""

    def __init__(self, aof: bool, sim: Simulator) -> None:
        self.dir = Path(os.environ.get("KEFU_CLUSTER_DIR", "/tmp/kefu-cluster"))
        self.pg_port = os.environ.get("KEFU_CLUSTER_PG_PORT", "5440")
        self.redis_port = int(os.environ.get("KEFU_CLUSTER_REDIS_PORT", "6390"))
        self.port = os.environ.get("KEFU_CLUSTER_PORT", "8080")
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_url = f"postgresql://kefu:kefu@127.0.0.1:{self.pg_port}/kefu"
        self.bus_url = f"redis://127.0.0.1:{self.redis_port}/0"
        link = {"name": "smsc", "protocol": "smpp", "port": sim.port, "username": "kefu",
                "password": "secret"}  # fmt: skip
        self.env = dict(os.environ, KEFU_CLUSTER_REDIS_AOF="yes" if aof else "no",
                        KEFU_SMS_LINKS=json.dumps([link]), KEFU_LOG_LEVEL="INFO",
                        KEFU_WEBCHAT_SITES=json.dumps([SITE]), KEFU_SECRET_KEY="redis-drill",
                        KEFU_DATABASE_URL=self.db_url, KEFU_BUS_URL=self.bus_url,
                        PYTHONUNBUFFERED="1")  # fmt: skip
        self.standby: subprocess.Popen[bytes] | None = None

    def sh(self, *words: str) -> None:
        subprocess.run([CLUSTER, *words], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.sh("start", str(WEB_PROCESSES))
        self.standby = subprocess.Popen(
            [*KEFU, "run", "workers", "--no-migrate"], env=dict(self.env, KEFU_ROLE="workers"),
            stdout=(self.dir / "standby.log").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.standby is not None and self.standby.poll() is None:
            os.killpg(self.standby.pid, signal.SIGTERM)
            try:
                self.standby.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.standby.pid, signal.SIGKILL)
        self.standby = None
        subprocess.run([CLUSTER, "stop"], env=self.env, stdout=subprocess.DEVNULL, check=False)

    def cli(self, *words: str) -> str:
        done = subprocess.run([*KEFU, *words], env=self.env, check=True, capture_output=True,
                              text=True)  # fmt: skip
        return done.stdout


async def make_partner(db_url: str, rate: float, burst: int) -> tuple[str, str]:
    """A partner allowed from loopback with an approved template of its own; its key."""
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.outbound.models import SmsTemplate
    from kefu.partners import service

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            terms = service.PartnerTerms("演练商户", ["127.0.0.1"], 1_000_000, rate, burst)
            partner = await service.create_partner(db, name="drill", sub_code="88",
                                                   terms=terms, actor="drill")  # fmt: skip
            db.add(SmsTemplate(name="drill_notice", kind="notification", partner_id=partner.id,
                               body="您的账单{n}已出，请按时还款。", status="approved",
                               created_by="drill", updated_by="drill", reviewed_by="checker"))  # fmt: skip
            await db.commit()
            _key, secret = await service.create_key(db, partner, actor="drill")
            await db.commit()
    finally:
        await engine.dispose()
    return "drill_notice", secret


class LogWatch:
    """New lines of the processes' logs, stamped with this drill's clock as they appear (the
    logs' own stamps are whole seconds)."""

    EVENTS = ("live_stream_signals", "live_stream_polls", "lease_taken", "lease_lost",
              "shared_limits_unreachable")  # fmt: skip

    def __init__(self, paths: list[Path], t0: float) -> None:
        self.paths, self.t0 = paths, t0
        self.offsets = {p: p.stat().st_size if p.exists() else 0 for p in paths}
        self.seen: list[tuple[float, str, str]] = []  # (t, file, event)

    async def run(self) -> None:
        while True:
            for path in self.paths:
                if not path.exists():
                    continue
                with path.open("rb") as f:
                    f.seek(self.offsets[path])
                    chunk = f.read()
                cut = chunk.rfind(b"\n") + 1
                self.offsets[path] += cut
                now = time.monotonic() - self.t0
                for line in chunk[:cut].decode(errors="replace").splitlines():
                    for event in self.EVENTS:
                        if f'"{event}"' in line or f" {event} " in line:
                            self.seen.append((now, path.stem, event))
            await asyncio.sleep(0.1)


def phase(t: float, args: argparse.Namespace) -> str:
    return "before" if t < args.kill_at else "down" if t < args.restart_at else "after"


async def one_run(aof: bool, sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    from redis import asyncio as aioredis

    cluster = Cluster(aof, sim)
    cluster.start()
    try:
        template, partner_key = await make_partner(cluster.db_url, args.rate, args.burst)
        admin_key = next(w for w in cluster.cli("apikey", "create", "drill-admin", "--role",
                                                "admin").split() if len(w) > 30)  # fmt: skip
        agent_key = next(w for w in cluster.cli("apikey", "create", "drill-agent", "--role",
                                                "agent").split() if len(w) > 30)  # fmt: skip
        redis = aioredis.Redis.from_url(cluster.bus_url, socket_timeout=1)
        deadline = time.monotonic() + 180
        while True:  # the active copy holds the lease and the standby is up
            with contextlib.suppress(Exception):
                if await redis.get("kefu:lease:workers"):
                    break
            assert time.monotonic() < deadline, "no copy of kefu run workers took the lease"
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)
        return await drive(cluster, redis, template, partner_key, admin_key, agent_key, aof,
                           sim, args)  # fmt: skip
    finally:
        cluster.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)


async def drive(cluster: Cluster, redis: Any, template: str, partner_key: str, admin_key: str,
                agent_key: str, aof: bool, sim: Simulator,
                args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    t0 = time.monotonic()
    clock = lambda: time.monotonic() - t0  # noqa: E731
    sms: list[tuple[float, str, list[int]]] = []  # (t, status, accepted ids)
    writes: list[tuple[float, str, int | None]] = []  # (t, status, conversation id)
    changed: list[list[float]] = [[] for _ in range(args.pages)]
    replies: list[int] = []
    lease_seen: list[tuple[float, bool]] = []
    submits_before = sim.submits()
    logs = [cluster.dir / "web.log", cluster.dir / "workers.log", cluster.dir / "standby.log"]
    watch = LogWatch(logs, t0)
    limits = httpx.Limits(max_connections=args.pages + 200)
    http = httpx.AsyncClient(base_url=cluster.base, timeout=10, limits=limits)
    stop = asyncio.Event()

    async def send_one(n: int) -> None:
        at = clock()
        try:
            r = await http.post("/api/v1/sms/messages",
                                headers={"Authorization": f"Bearer {partner_key}"},
                                json={"to": [f"139{n:08d}"], "template": template,
                                      "variables": {"n": str(n)}})  # fmt: skip
        except httpx.TimeoutException:
            sms.append((at, "timeout", []))
            return
        except httpx.HTTPError as exc:
            sms.append((at, type(exc).__name__, []))
            return
        ids = [a["id"] for a in r.json().get("accepted", [])] if r.status_code == 202 else []
        sms.append((at, str(r.status_code), ids))

    async def sms_load() -> None:
        tasks, n, step = set(), 0, 1.0 / args.offered
        began = time.monotonic()
        while not stop.is_set():
            n += 1
            task = asyncio.create_task(send_one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(max(0.0, began + n * step - time.monotonic()))
        await asyncio.gather(*tasks)

    async def write_load() -> None:
        while not stop.is_set():
            at = clock()
            try:
                r = await http.post("/api/v1/conversations",
                                    headers={"Authorization": f"Bearer {admin_key}"},
                                    json={"channel": "webchat", "contact": f"drill{at:.1f}",
                                          "text": "我的信用卡账单有问题"})  # fmt: skip
                body = r.json() if r.status_code == 201 else {}
                ident = body.get("conversation_id", body.get("id"))
                writes.append((at, str(r.status_code), ident))
            except httpx.HTTPError as exc:
                writes.append((at, type(exc).__name__, None))
            await asyncio.sleep(max(0.0, 1.0 - (clock() - at)))

    async def page(i: int) -> None:
        while not stop.is_set():  # EventSource reconnects: so does this page
            with contextlib.suppress(httpx.HTTPError):
                async with http.stream("GET", "/workspace/events", params={"max_seconds": 3600},
                                       headers={"Authorization": f"Bearer {agent_key}"},
                                       timeout=httpx.Timeout(10, read=60)) as stream:  # fmt: skip
                    async for line in stream.aiter_lines():
                        if line.startswith("event: changed"):
                            changed[i].append(clock())
            await asyncio.sleep(0.5)

    async def reply_load() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                replies.extend(await add_replies(cluster.db_url, 1))
            await asyncio.sleep(2)

    async def lease_watch() -> None:
        while not stop.is_set():
            try:
                held = bool(await redis.get("kefu:lease:workers"))
            except Exception:  # noqa: BLE001 - Redis down: nobody holds it
                held = False
            lease_seen.append((clock(), held))
            await asyncio.sleep(0.2)

    async def redis_events() -> None:
        await asyncio.sleep(max(0.0, args.kill_at - clock()))
        if args.fault == "stop":  # a Redis that holds its connections and does not answer
            pid = int((cluster.dir / "redis.pid").read_text())
            os.kill(pid, signal.SIGSTOP)
            print(f"  t={clock():.1f} s: Redis stopped (SIGSTOP)", flush=True)
            await asyncio.sleep(max(0.0, args.restart_at - clock()))
            os.kill(pid, signal.SIGCONT)
            print(f"  t={clock():.1f} s: Redis resumed (SIGCONT)", flush=True)
            return
        await asyncio.to_thread(cluster.sh, "kill", "redis")
        print(f"  t={clock():.1f} s: Redis killed (-9)", flush=True)
        await asyncio.sleep(max(0.0, args.restart_at - clock()))
        await asyncio.to_thread(cluster.sh, "restart", "redis")
        print(
            f"  t={clock():.1f} s: Redis started again (AOF {'on' if aof else 'off'})", flush=True
        )

    background = [asyncio.create_task(c) for c in
                  (watch.run(), *(page(i) for i in range(args.pages)))]  # fmt: skip
    await asyncio.sleep(2)  # the pages have said hello
    t0 = time.monotonic()
    watch.t0 = t0
    for pageno in range(args.pages):
        changed[pageno].clear()
    load = [asyncio.create_task(c) for c in (sms_load(), write_load(), reply_load(),
                                             lease_watch(), redis_events())]  # fmt: skip
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(*load)
    restart = args.restart_at

    # Live latency: from each write's request to each page's next 'changed'.
    latency: dict[str, list[float]] = {p: [] for p in PHASES}
    for at, status, _ in writes:
        if status != "201":
            continue
        for events in changed:
            after = [t for t in events if t >= at]
            if after and after[0] - at < 30:
                latency[phase(at, args)].append(after[0] - at)
    # Lease: the key seen again (with AOF it may be the old holder's, restored), and the first
    # lease_taken a copy logged after the restart (its loops started again).
    key_back = next((t - restart for t, held in lease_seen if t >= restart and held), None)
    lease_back = next((t - restart for t, _f, e in watch.seen
                       if e == "lease_taken" and t >= restart), None)  # fmt: skip
    signals_back = [t - restart for t, _f, e in watch.seen if e == "live_stream_signals"
                    and t >= restart]  # fmt: skip
    polls = [round(t - args.kill_at, 1) for t, _f, e in watch.seen if e == "live_stream_polls"]
    limits_down = [round(t - args.kill_at, 1) for t, _f, e in watch.seen
                   if e == "shared_limits_unreachable"]  # fmt: skip
    taken = [(round(t, 1), f) for t, f, e in watch.seen if e == "lease_taken"]
    lost_lease = [(round(t, 1), f) for t, f, e in watch.seen if e == "lease_lost"]

    # What was accepted, and whether it was done: after up to --settle s.
    accepted = [i for _t, s, ids in sms if s == "202" for i in ids]
    conversations = [c for _t, s, c in writes if s == "201" and c is not None]
    began = time.monotonic()
    while True:
        stored, sent = await sms_state(cluster.db_url, accepted)
        replies_lost, replies_twice = await relayed(cluster.db_url, replies)
        if (sent == len(accepted) and not replies_lost) or time.monotonic() - began > args.settle:
            break
        await asyncio.sleep(1)
    settled = time.monotonic() - began
    conv_stored = await conversations_stored(cluster.db_url, conversations)
    submits = sim.submits() - submits_before
    for task in background:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*background, return_exceptions=True)
    await http.aclose()
    await redis.aclose()

    spans = {"before": args.kill_at, "down": args.restart_at - args.kill_at,
             "after": args.seconds - args.restart_at}  # fmt: skip
    answers = {}
    for p in PHASES:
        counts: dict[str, int] = {}
        for t, s, _ids in sms:
            if phase(t, args) == p:
                counts[s] = counts.get(s, 0) + 1
        admitted = sum(len(ids) for t, s, ids in sms if phase(t, args) == p and s == "202")
        answers[p] = {"answers": counts, "admitted_per_s": round(admitted / spans[p], 2),
                      "live_p50_ms": pct(latency[p], 0.5), "live_p95_ms": pct(latency[p], 0.95),
                      "live_samples": len(latency[p])}  # fmt: skip
    return {
        "aof": aof, "rate": args.rate, "burst": args.burst, "offered_per_s": args.offered,
        "phases": answers, "down_bound_per_s": WEB_PROCESSES * args.rate,
        "pages_polling_after_kill_s": sorted(polls), "limits_local_after_kill_s": limits_down,
        "lease_taken_again_after_restart_s": None if lease_back is None else round(lease_back, 1),
        "lease_key_back_after_restart_s": None if key_back is None else round(key_back, 1),
        "lease_taken": taken, "lease_lost": lost_lease,
        "pages_on_signals_again_s": sorted(round(s, 1) for s in signals_back),
        "sms_accepted": len(accepted), "sms_stored": stored, "sms_sent": sent,
        "sms_submits": submits, "sms_lost": len(accepted) - min(stored, sent),
        "sms_twice": max(0, submits - sent),
        "conversations_accepted": len(conversations), "conversations_stored": conv_stored,
        "writes_failed": sum(1 for _t, s, _c in writes if s != "201"),
        "replies": len(replies), "replies_lost": replies_lost, "replies_twice": replies_twice,
        "settled_after_s": round(settled, 1),
    }  # fmt: skip


async def sms_state(db_url: str, ids: list[int]) -> tuple[int, int]:
    """(stored, sent or later) of the accepted SMS ``ids``."""
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT state FROM sms_messages WHERE id = ANY($1::bigint[])", ids)
    finally:
        await conn.close()
    return len(rows), sum(1 for r in rows if r["state"] in ("sent", "delivered"))


async def conversations_stored(db_url: str, ids: list[int]) -> int:
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM conversations WHERE id = ANY($1::bigint[])", ids))  # fmt: skip
    finally:
        await conn.close()


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[Any]) -> Any:
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 2) if values else None

    out: dict[str, Any] = {}
    for p in PHASES:
        out[p] = {k: med([r["phases"][p][k] for r in runs])
                  for k in ("admitted_per_s", "live_p50_ms", "live_p95_ms")}  # fmt: skip
    out["lease_taken_again_after_restart_s"] = med(
        [r["lease_taken_again_after_restart_s"] for r in runs])  # fmt: skip
    out["pages_all_on_signals_again_s"] = med(
        [max(r["pages_on_signals_again_s"]) if r["pages_on_signals_again_s"] else None
         for r in runs])  # fmt: skip
    for k in ("sms_lost", "sms_twice", "replies_lost", "replies_twice"):
        out[k] = sum(r[k] for r in runs)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="aof,noaof")
    parser.add_argument("--runs", type=int, default=1, help="per scenario (medians printed)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-at", type=float, default=15)
    parser.add_argument("--restart-at", type=float, default=25)
    parser.add_argument("--offered", type=float, default=30, help="SMS requests/s offered")
    parser.add_argument("--rate", type=float, default=10, help="the partner's messages/s")
    parser.add_argument("--burst", type=int, default=5, help="the partner's bucket")
    parser.add_argument("--pages", type=int, default=4, help="open workspace live pages")
    parser.add_argument("--fault", choices=("kill", "stop"), default="kill",
                        help="kill: -9 then started again; stop: SIGSTOP then SIGCONT (a Redis "
                             "that does not answer; its keys stay)")  # fmt: skip
    parser.add_argument("--settle", type=float, default=120, help="s to wait for the work")
    args = parser.parse_args()
    print(f"load average at start: {loadavg()}  (cores: {os.cpu_count()})", flush=True)
    sim = Simulator("smpp")
    try:
        for scenario in args.scenarios.split(","):
            runs = []
            for n in range(args.runs):
                print(f"{scenario}: run {n + 1} (load {loadavg()})", flush=True)
                runs.append(await one_run(scenario == "aof", sim, args))
                print(json.dumps(runs[-1], ensure_ascii=False), flush=True)
            print(f"{scenario}: medians of {len(runs)}: "
                  f"{json.dumps(medians(runs), ensure_ascii=False)}", flush=True)  # fmt: skip
    finally:
        sim.stop()
    print(f"load average at end: {loadavg()}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
