"""The SQL kefu really runs per message, captured from its own engines (#20's "real mix").

Two sessions, on a scratch PostgreSQL database (schema public is dropped first):

- **WeChat**: a bound follower's text ("余额多少") answered by self-service, through the whole
  app on loopback (signed + AES callback, the WeChat simulator for the API side);
- **SMS**: one ``POST /api/v1/sms/messages`` (one recipient) sent by the gateway to an SMPP
  carrier simulator in another process, until its delivery report is stored.

Every statement of every engine of the process is recorded (SQLAlchemy's
``before_cursor_execute`` on ``Engine``, and commits/rollbacks), after a warm-up (caches, the
API key, the access token), inside a window that holds only the measured messages; the loops
unrelated to one message (routing ticker, schedulers, rollups) are off. Statements on the
synthetic bank's tables (``bank_*``) are the bank's core system, not kefu's database: counted
apart. An idle window of the same length counts what polls run with no message at all.

    KEFU_BENCH_DATABASE_URL=postgresql://kefu:kefu@127.0.0.1:5432/kefu_h5 \\
        .venv/bin/python benchmarks/db_ops_capture.py [--messages 5] [--out mix.json]

The JSON written holds, per session, statements per message by kind and by normalised text;
``benchmarks/db_ops_mix.py`` replays that mix with pgbench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


class Capture:
    """Statements and transaction ends of every engine while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.lock = threading.Lock()
        self.statements: list[str] = []
        self.commits = 0
        self.rollbacks = 0

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def statement(conn: Any, cursor: Any, sql: str, params: Any, context: Any,
                      many: bool) -> None:  # fmt: skip
            if self.on:
                with self.lock:
                    self.statements.append(sql)

        def ended(kind: str) -> Any:
            def count(conn: Any) -> None:
                if self.on:
                    with self.lock:
                        setattr(self, kind, getattr(self, kind) + 1)

            return count

        event.listen(Engine, "before_cursor_execute", statement)
        event.listen(Engine, "commit", ended("commits"))
        event.listen(Engine, "rollback", ended("rollbacks"))

    def take(self) -> tuple[list[str], int, int]:
        with self.lock:
            got = (self.statements, self.commits, self.rollbacks)
            self.statements, self.commits, self.rollbacks = [], 0, 0
        return got


CAPTURE = Capture()


def normalise(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    text = re.sub(r"\$\d+(::[A-Z_\[\]]+)?", "?", text)
    return re.sub(r"\(\?(, \?)+\)", "(?…)", text)


def kind_of(sql: str) -> str:
    head = sql.lstrip().split(None, 1)[0].upper()
    if head in ("SELECT", "WITH"):
        return "write" if re.search(r"\bFOR UPDATE\b|\bINSERT\b|\bUPDATE\b", sql, re.I) and \
            head == "WITH" else "read"  # fmt: skip
    if head in ("INSERT", "UPDATE", "DELETE"):
        return "write"
    return "other"  # advisory locks, SET, SAVEPOINT …


def summarise(statements: list[str], commits: int, rollbacks: int, messages: int,
              idle: list[str]) -> dict[str, Any]:  # fmt: skip
    ours = [s for s in statements if not re.search(r"\bbank_\w+", s)]
    bank = len(statements) - len(ours)
    kinds = Counter(kind_of(s) for s in ours)
    texts = Counter(normalise(s) for s in ours)
    idle_ours = [s for s in idle if not re.search(r"\bbank_\w+", s)]
    return {
        "messages": messages,
        "per_message": {k: round(v / messages, 2) for k, v in kinds.items()},
        "statements_per_message": round(len(ours) / messages, 2),
        "commits_per_message": round(commits / messages, 2),
        "rollbacks_per_message": round(rollbacks / messages, 2),
        "bank_statements_per_message": round(bank / messages, 2),
        "idle_statements_in_window": len(idle_ours),
        "statements": [
            {"per_message": round(n / messages, 2), "kind": kind_of(t), "sql": t[:400]}
            for t, n in texts.most_common()
        ],  # fmt: skip
    }


async def reset(url: str, customers: int) -> None:
    import asyncpg

    from kefu.bank.synthetic.seeder import seed
    from kefu.db.engine import make_engine
    from kefu.db.migrate import upgrade
    from kefu.demo import ensure_demo_data

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await conn.close()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        await seed(engine, customers=customers, seed=7, as_of=date(2026, 11, 29))
    finally:
        await engine.dispose()
    await ensure_demo_data(url)


QUIET = {"routing_tick": 0, "subscriptions_scheduler": False, "campaign_scheduler_interval": 0,
         "crisis": {"interval": 0}, "quality": {"interval": 0},
         "reports": {"rollup_interval": 0}}  # fmt: skip


async def wechat(url: str, messages: int, window: float) -> dict[str, Any]:
    from tests.channels.wechat.harness import bind_openid, client, running

    from kefu.channels.wechat.simulator.follower import post_callback, text_xml

    async with running(url, **QUIET) as run:
        target = run.target()
        openids = [f"o-capture-{i:03d}" for i in range(messages + 3)]
        for i, openid in enumerate(openids):
            await bind_openid(url, openid, customer_no=f"C{i + 1:010d}")
            run.follow(openid)
        async with client() as http:
            msg_id = 9_000_000

            async def send(openid: str) -> None:
                nonlocal msg_id
                msg_id += 1
                result = await post_callback(http, target, text_xml(target, openid, "余额多少",
                                                                    msg_id))  # fmt: skip
                assert result.status == 200 and "余额" in result.body or result.body, result

            for openid in openids[messages:]:  # warm-up: token, caches, first-use imports
                await send(openid)
            await asyncio.sleep(window)
            CAPTURE.on = True
            await asyncio.sleep(window)  # idle: what runs with no message
            idle, _, _ = CAPTURE.take()
            for openid in openids[:messages]:
                await send(openid)
            await asyncio.sleep(window)  # what a message leaves to background tasks
            CAPTURE.on = False
    statements, commits, rollbacks = CAPTURE.take()
    return summarise(statements, commits, rollbacks, messages, idle)


def sms(url: str, messages: int, window: float) -> dict[str, Any]:
    import httpx
    from fastapi.testclient import TestClient
    from tests.channels.sms.test_demo import _free_ports, _wait
    from tests.conftest import login

    from kefu.app import create_app
    from kefu.channels.sms.config import SmsLink
    from kefu.config import load_settings

    port, control = _free_ports(2)
    simulator = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "sms", "simulator", "--protocol", "smpp", "--port",
         str(port), "--control-port", str(control), "--username", "kefu", "--password",
         "secret", "--report-delay", "0.05"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{control}/stats", timeout=1).status_code
              == 200, timeout=120)  # fmt: skip
        link = SmsLink(name="smsc", protocol="smpp", port=port, username="kefu",
                       password="secret")  # fmt: skip
        config = load_settings(database_url=url, secret_key="t", sms_links=[link.model_dump()],
                               sms_policy={"send_hours": {}}, **QUIET)  # fmt: skip
        with TestClient(create_app(config), client=("testclient", 50000)) as http:
            login(http, "admin")
            key = http.post("/api/v1/api-keys", json={"name": "core", "role": "admin"}).json()
            http.cookies.clear()
            http.headers["Authorization"] = f"Bearer {key['key']}"

            def send(i: int) -> int:
                answer = http.post("/api/v1/sms/messages", json={
                    "to": [f"1380000{i:04d}"], "text": "您的3月账单已出，应还¥1,234.56。",
                    "kind": "notification", "idempotency_key": f"capture-{i}"})  # fmt: skip
                assert answer.status_code == 202, answer.text
                return answer.json()["accepted"][0]["id"]

            def delivered(ids: list[int]) -> bool:
                return all(http.get(f"/api/v1/sms/messages/{m}").json()["state"] == "delivered"
                           for m in ids)  # fmt: skip

            warm = [send(i) for i in range(3)]
            _wait(lambda: delivered(warm), timeout=60)
            time.sleep(window)
            CAPTURE.on = True
            time.sleep(window)
            idle, _, _ = CAPTURE.take()
            ids = [send(100 + i) for i in range(messages)]
            started = time.monotonic()
            while time.monotonic() - started < 60:  # delivered, seen from the database only
                if _all_delivered(url, ids):
                    break
                time.sleep(0.2)
            time.sleep(window)
            CAPTURE.on = False
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    statements, commits, rollbacks = CAPTURE.take()
    return summarise(statements, commits, rollbacks, messages, idle)


def _all_delivered(url: str, ids: list[int]) -> bool:
    """Asked outside kefu's engines (psycopg-free: asyncpg in a loop of its own), so the
    check adds no statement to the capture."""
    import asyncpg

    async def go() -> bool:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            n = await conn.fetchval("SELECT count(*) FROM sms_messages WHERE id = ANY($1::int[])"
                                    " AND state = 'delivered'", ids)  # fmt: skip
            return n == len(ids)
        finally:
            await conn.close()

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--window", type=float, default=2.0, help="seconds of the idle window")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    url = os.environ.get("KEFU_BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("KEFU_BENCH_DATABASE_URL: a scratch PostgreSQL database (it is wiped)")
    asyncio.run(reset(url, customers=50))
    CAPTURE.install()
    result = {"wechat": asyncio.run(wechat(url, args.messages, args.window)),
              "sms": sms(url, args.messages, args.window)}  # fmt: skip
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
