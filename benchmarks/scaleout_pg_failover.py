"""PostgreSQL restarted, and failover to a promoted replica, under load (issue 20).

The one-machine cluster (scripts/cluster.sh: its own PostgreSQL with a streaming replica
(pg_basebackup -R), Redis, `kefu serve --workers 2` behind nginx, `kefu run workers`) takes
WeChat callbacks (the WeChat API simulator in this process answers the custom-sends) at
``--rate``/s, each a new text message from a new follower, sent as WeChat sends it: up to 3
tries, the next after ``Retry-After`` (5 s without one), a try given 5 s. At ``--event-at`` s:

* ``restart-fast`` / ``restart-immediate``: ``pg_ctl restart -m fast|immediate`` of the primary;
* ``failover``: ``pg_ctl stop -m immediate`` of the primary, ``pg_ctl promote`` of the replica
  ``--promote-after`` s later (what Patroni would do). No kefu process is restarted: kefu's
  ``KEFU_DATABASE_URL`` names both servers, ``postgresql://kefu:kefu@/kefu?host=127.0.0.1:5441
  &host=127.0.0.1:5442&target_session_attrs=read-write``, so new connections find the one
  that takes writes (asyncpg's multi-host connect; pool_pre_ping drops the dead ones).

Per run: tries answered 2xx / 503 with Retry-After / 503 without / 500 / other / timeouts;
the outage as the senders saw it (first failed try -> first 2xx after it); the time from the
restart (or the promotion) to that first 2xx; then, from the database: every message answered
2xx must be stored (accepted and lost: must be 0), stored twice, answered twice (passive reply
and custom-send), messages whose 503s WeChat's retries got answered later, and those given up.

    KEFU_CLUSTER_DIR=/tmp/kefu-h1 .venv/bin/python benchmarks/scaleout_pg_failover.py \\
        --pg-port 5441 --redis-port 6391 --web-port 8011 --nginx-port 8081 --runs 3

These are counts and wall-clock times, not throughput: the load average is printed before and
after each run (a restart takes longer on a loaded machine). The cluster directory is removed
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from benchmarks.wechat_soak import AES_KEY, APP_ID, TOKEN  # noqa: E402

from kefu.channels.wechat.simulator import SimApp, SimulatorState, build_app  # noqa: E402
from kefu.channels.wechat.simulator.follower import (  # noqa: E402
    CallbackTarget,
    build_request,
    parse_reply,
    text_xml,
)
from kefu.channels.wechat.simulator.serve import serve  # noqa: E402

CLUSTER = ROOT / "scripts" / "cluster.sh"
ACCOUNT = "pgf"
TRIES, TRY_TIMEOUT, NO_RETRY_AFTER = 3, 5.0, 5.0  # WeChat: 3 tries, 5 s each
TEXTS = ["查余额", "信用卡账单", "转人工", "挂失", "你好", "网点营业时间"]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Try:
    start: float
    end: float
    outcome: str  # 2xx, 503_retry_after, 503_bare, 500, other_<code>, timeout, conn_error


@dataclass
class Message:
    openid: str
    tries: list[Try] = field(default_factory=list)
    passive: bool = False

    @property
    def answered(self) -> bool:
        return any(t.outcome == "2xx" for t in self.tries)


class Cluster:
    def __init__(self, args: argparse.Namespace, api_url: str) -> None:
        self.dir = Path(args.dir)
        self.ports = args
        hosts = f"host=127.0.0.1:{args.pg_port}&host=127.0.0.1:{args.pg_port + 1}"
        self.db_url = f"postgresql://kefu:kefu@/kefu?{hosts}&target_session_attrs=read-write"
        account = {"name": ACCOUNT, "app_id": APP_ID, "app_secret": "soak-secret", "token": TOKEN,
                   "encoding_aes_key": AES_KEY, "mode": "safe"}  # fmt: skip
        self.env = dict(
            os.environ, KEFU_CLUSTER_DIR=str(self.dir), KEFU_CLUSTER_PG_PORT=str(args.pg_port),
            KEFU_CLUSTER_REDIS_PORT=str(args.redis_port), KEFU_CLUSTER_PORT=str(args.nginx_port),
            KEFU_CLUSTER_WEB_PORT=str(args.web_port), KEFU_CLUSTER_DATABASE_URL=self.db_url,
            KEFU_WECHAT_ACCOUNTS=json.dumps([account]), KEFU_WECHAT_API_BASE_URL=api_url,
            KEFU_LOG_LEVEL="INFO",
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{args.nginx_port}"

    def run(self, *argv: str) -> str:
        done = subprocess.run(["bash", str(CLUSTER), *argv], env=self.env, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"cluster.sh {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def fresh(self) -> None:
        """A new cluster: primary, replica, Redis, 2 web processes, the workers, nginx."""
        self.stop()
        self.run("start", "2")
        self.run("replica")

    def stop(self) -> None:
        if self.dir.exists():
            self.run("stop")
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_count(self, name: str, needle: str) -> int:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace").count(needle) if path.exists() else 0

    def alive(self, name: str) -> bool:
        return f"{name} running" in self.run("status")


async def send(http: httpx.AsyncClient, target: CallbackTarget, message: Message, msg_id: int,
               t0: float) -> None:  # fmt: skip
    xml = text_xml(target, message.openid, random.choice(TEXTS), msg_id)
    for _ in range(TRIES):
        params, body = build_request(target, xml)
        start = time.monotonic() - t0
        wait = NO_RETRY_AFTER
        try:
            response = await http.post(target.url, params=params, content=body.encode(),
                                       timeout=TRY_TIMEOUT,
                                       headers={"Content-Type": "text/xml"})  # fmt: skip
        except httpx.TimeoutException:
            outcome, wait = "timeout", 0.0  # WeChat waited its 5 s already
        except httpx.HTTPError:
            outcome = "conn_error"
        else:
            code = response.status_code
            retry_after = response.headers.get("retry-after", "")
            if code == 200:
                outcome = "2xx"
                message.passive = parse_reply(target, response.text, encrypted=True) is not None
            elif code == 503:
                outcome = "503_retry_after" if retry_after.isdigit() else "503_bare"
                wait = float(retry_after) if retry_after.isdigit() else NO_RETRY_AFTER
            elif code == 500:
                outcome = "500"
            else:
                outcome = f"other_{code}"
        message.tries.append(Try(start, time.monotonic() - t0, outcome))
        if outcome == "2xx":
            return
        await asyncio.sleep(wait)


async def poll_ready(url: str, seconds: float, t0: float, seen: list[tuple[float, int]]) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() - t0 < seconds:
            try:
                code = (await http.get(f"{url}/readyz")).status_code
            except httpx.HTTPError:
                code = 0
            seen.append((time.monotonic() - t0, code))
            await asyncio.sleep(0.5)


async def disrupt(cluster: Cluster, scenario: str, args: argparse.Namespace, t0: float,
                  marks: dict[str, float]) -> None:  # fmt: skip
    await asyncio.sleep(args.event_at)
    marks["event"] = time.monotonic() - t0
    if scenario.startswith("restart-"):
        await asyncio.to_thread(cluster.run, "pg-restart", scenario.removeprefix("restart-"))
        marks["back"] = time.monotonic() - t0  # pg_ctl -w: accepting connections again
        marks["recovery_from"] = marks["event"]
    else:
        await asyncio.to_thread(cluster.run, "pg-stop", "immediate")
        await asyncio.sleep(args.promote_after)
        marks["recovery_from"] = time.monotonic() - t0
        await asyncio.to_thread(cluster.run, "promote")
        marks["back"] = time.monotonic() - t0


async def stored(cluster: Cluster, tag: str) -> tuple[Counter[str], dict[str, str]]:
    """Rows per follower in wechat_inbound and their state, read from whichever server now
    takes writes."""
    dsn = (f"postgresql://kefu:kefu@127.0.0.1:{cluster.ports.pg_port},"
           f"127.0.0.1:{cluster.ports.pg_port + 1}/kefu?target_session_attrs=read-write")  # fmt: skip
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT openid, count(*) AS n, max(state) AS state FROM wechat_inbound "
            "WHERE account = $1 AND openid "
            "LIKE $2 GROUP BY openid", ACCOUNT, f"o-{tag}-%",
        )  # fmt: skip
    finally:
        await conn.close()
    return (Counter({row["openid"]: int(row["n"]) for row in rows}),
            {row["openid"]: str(row["state"]) for row in rows})  # fmt: skip


async def one_run(cluster: Cluster, scenario: str, n: int, args: argparse.Namespace,
                  sim: SimulatorState) -> dict:  # fmt: skip
    tag = f"{scenario}-{n}-{int(time.time())}"
    target = CallbackTarget(f"{cluster.url}/channels/wechat/{ACCOUNT}", TOKEN, APP_ID, AES_KEY,
                            "safe")  # fmt: skip
    load_before = loadavg()
    logged = {k: cluster.log_count("web", k) for k in ("database_unavailable", "unhandled_error")}
    sent_before = len(sim.sent)
    messages: list[Message] = []
    marks: dict[str, float] = {}
    ready: list[tuple[float, int]] = []
    t0 = time.monotonic()
    tasks: set[asyncio.Task] = set()
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(limits=limits) as http:
        side = [asyncio.create_task(disrupt(cluster, scenario, args, t0, marks)),
                asyncio.create_task(poll_ready(cluster.url, args.seconds, t0, ready))]  # fmt: skip
        msg_id = int(time.time()) * 1000
        while time.monotonic() - t0 < args.seconds:
            message = Message(f"o-{tag}-{len(messages)}")
            sim.interacted(APP_ID, message.openid, subscribed=True)
            messages.append(message)
            msg_id += 1
            task = asyncio.create_task(send(http, target, message, msg_id, t0))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(random.expovariate(args.rate))
        await asyncio.gather(*side)
        if tasks:
            await asyncio.wait(tasks)
    await asyncio.sleep(args.settle)  # deferred answers go out by custom-send
    rows, states = await stored(cluster, tag)
    custom = Counter(s.touser for s in sim.sent[sent_before:] if s.kind == "custom")

    tries = [t for m in messages for t in m.tries]
    outcomes = Counter(t.outcome for t in tries)
    failed = sorted(t.start for t in tries if t.outcome != "2xx")
    first_fail = failed[0] if failed else None
    ok_after = sorted(t.end for t in tries if t.outcome == "2xx" and first_fail is not None
                      and t.start >= first_fail)  # fmt: skip
    first_ok = ok_after[0] if ok_after else None
    answered = [m for m in messages if m.answered]
    ready_503 = [t for t, code in ready if code == 503]
    result = {
        "scenario": scenario, "run": n, "offered_messages": len(messages),
        "tries": len(tries), "tries_by_outcome": dict(sorted(outcomes.items())),
        "event_at_s": round(marks.get("event", float("nan")), 2),
        "pg_back_at_s": round(marks.get("back", float("nan")), 2),
        "first_failure_at_s": round(first_fail, 2) if first_fail is not None else None,
        "outage_s": round(first_ok - first_fail, 2) if first_ok and first_fail else 0.0,
        "to_first_success_s": (round(first_ok - marks["recovery_from"], 2)
                               if first_ok and "recovery_from" in marks else None),
        "messages_answered_2xx": len(answered),
        "answered_after_a_503": sum(1 for m in answered
                                    if any(t.outcome.startswith("503") for t in m.tries)),
        "given_up_after_3_tries": len(messages) - len(answered),
        "accepted_and_lost": sum(1 for m in answered if rows[m.openid] == 0),
        "stored_twice": sum(1 for n_ in rows.values() if n_ > 1),
        "stored_not_accepted": sum(1 for m in messages if not m.answered and rows[m.openid]),
        "answered_twice": sum(1 for m in answered if int(m.passive) + custom[m.openid] > 1),
        "accepted_unanswered": sum(1 for m in answered
                                   if not m.passive and not custom[m.openid]),
        "unanswered_states": dict(Counter(states.get(m.openid, "-") for m in answered
                                          if not m.passive and not custom[m.openid])),
        "readyz_503_for_s": (round(ready_503[-1] - ready_503[0], 1) if ready_503 else 0.0),
        "logged_database_unavailable": cluster.log_count("web", "database_unavailable")
        - logged["database_unavailable"],
        "logged_unhandled_error": cluster.log_count("web", "unhandled_error")
        - logged["unhandled_error"],
        "workers_alive": cluster.alive("workers"), "web_alive": cluster.alive("web"),
        "load_before": load_before, "load_after": loadavg(),
    }  # fmt: skip
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


async def warm_up(cluster: Cluster, messages: int = 30) -> None:
    """Not counted: each web process loads its language models on its first messages."""
    target = CallbackTarget(f"{cluster.url}/channels/wechat/{ACCOUNT}", TOKEN, APP_ID, AES_KEY,
                            "safe")  # fmt: skip
    t0 = time.monotonic()
    async with httpx.AsyncClient() as http:
        await asyncio.gather(*(send(http, target, Message(f"o-warm-{t0}-{i}"), 9_000 + i, t0)
                               for i in range(messages)))  # fmt: skip
    await asyncio.sleep(5)


def summary(scenario: str, runs: list[dict]) -> dict:
    def median(key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 2) if values else None

    totals = Counter()
    for r in runs:
        totals.update(r["tries_by_outcome"])
    return {
        "scenario": scenario, "runs": len(runs),
        "median_outage_s": median("outage_s"),
        "median_to_first_success_s": median("to_first_success_s"),
        "tries_by_outcome": dict(sorted(totals.items())),
        **{k: sum(r[k] for r in runs) for k in (
            "offered_messages", "messages_answered_2xx", "answered_after_a_503",
            "given_up_after_3_tries", "accepted_and_lost", "stored_twice",
            "stored_not_accepted", "answered_twice", "accepted_unanswered")},
    }  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=os.environ.get("KEFU_CLUSTER_DIR", "/tmp/kefu-failover"))
    parser.add_argument("--pg-port", type=int, default=5441, help="the replica: the next port")
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--web-port", type=int, default=8011)
    parser.add_argument("--nginx-port", type=int, default=8081)
    parser.add_argument("--scenarios", default="restart-fast,restart-immediate,failover")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=10.0, help="messages/s")
    parser.add_argument("--seconds", type=float, default=40.0, help="load per run")
    parser.add_argument("--event-at", type=float, default=15.0)
    parser.add_argument("--promote-after", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds after the load before counting (custom-sends)")  # fmt: skip
    args = parser.parse_args()
    if args.event_at + args.promote_after + 10 > args.seconds:
        raise SystemExit("--seconds must leave time after the event to see the recovery")
    print(f"load average at start: {loadavg()}  (cores: {os.cpu_count()})", flush=True)
    sim = SimulatorState()
    sim.add_app(SimApp(APP_ID, "soak-secret", TOKEN, AES_KEY, "safe"))
    simulator = await serve(build_app(sim))
    cluster = Cluster(args, simulator.url)
    results: dict[str, list[dict]] = {}
    try:
        for scenario in args.scenarios.split(","):
            for n in range(1, args.runs + 1):
                # A restart leaves the cluster as it was; a failover leaves the replica alone
                # as the primary: each failover run (and the first restart) gets a fresh one.
                if scenario == "failover" or n == 1:
                    cluster.fresh()
                    await warm_up(cluster)
                results.setdefault(scenario, []).append(
                    await one_run(cluster, scenario, n, args, sim)
                )
    finally:
        cluster.stop()
        await simulator.stop()
    for scenario, runs in results.items():
        print(json.dumps(summary(scenario, runs), ensure_ascii=False), flush=True)
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
