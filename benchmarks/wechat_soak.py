"""Soak test of the WeChat channel: simulated followers sending a mix of menu clicks and free
text to one kefu process over loopback, as WeChat's server does (signed and AES-encrypted,
five-second timeout, three tries).

Prints messages/s, p50/p99 passive-reply latency, duplicate and lost answers, kefu's peak memory,
and the same figures for a baseline measured in the same run: an echo server that does only the
signature check, decryption and an encrypted echo (the floor the load generator and crypto set).

    .venv/bin/python benchmarks/wechat_soak.py --minutes 5            # the issue's run
    .venv/bin/python benchmarks/wechat_soak.py --minutes 0.5 --rate 20  # a quick look

Answers are counted per follower: passive replies plus the custom-send messages the WeChat
simulator recorded; a follower with more answers than messages has duplicates, fewer means lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kefu.channels.wechat.simulator import SimApp, SimulatorState, build_app  # noqa: E402
from kefu.channels.wechat.simulator.follower import (  # noqa: E402
    CallbackTarget,
    event_xml,
    post_callback,
    text_xml,
)
from kefu.channels.wechat.simulator.serve import serve  # noqa: E402

TOKEN, AES_KEY, APP_ID = (
    "kefu-soak-token",
    "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "wxsoak0000000001",
)
TEXTS = ["我要查3月的账单", "余额多少", "信用卡额度是多少", "我的积分", "你好", "帮助",
         "还款日是哪天", "ZD", "YE", "查一下上个月账单"]  # fmt: skip
CLICKS = ["MENU_BILL", "MENU_CARDS", "MENU_HELP", "MENU_BRANCH"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_up(url: str, proc: subprocess.Popen) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            try:
                await http.get(url, timeout=1)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
    raise SystemExit("server did not start")


async def prepare_database(db_url: str, followers: int, customers: int) -> None:
    """Migrate, seed a small synthetic bank and the demo data, bind openids to customers."""
    from sqlalchemy import select

    from kefu.bank.synthetic.seeder import seed
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.db.migrate import upgrade
    from kefu.demo import ensure_demo_data
    from kefu.identity.models import ChannelIdentity, Customer

    if db_url.startswith("postgres"):  # a throw-away database: start from an empty schema
        import asyncpg

        conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await conn.close()
    await asyncio.to_thread(upgrade, db_url)

    async def go() -> None:
        engine = make_engine(db_url)
        await seed(engine, customers=customers, seed=11, as_of=date.today())
        await engine.dispose()
        await ensure_demo_data(db_url)
        engine = make_engine(db_url)
        async with make_sessionmaker(engine)() as db:
            known = {c.bank_customer_no: c for c in (await db.scalars(select(Customer))).all()}
            for n in range(min(followers, customers)):
                customer = known.get(f"C{n + 1:010d}") or Customer(
                    bank_customer_no=f"C{n + 1:010d}"
                )
                db.add(customer)
                await db.flush()
                db.add(ChannelIdentity(kind="wechat_openid", value=f"o-soak-{n}",
                                       customer_id=customer.id))  # fmt: skip
            await db.commit()
        await engine.dispose()

    await go()


async def drive(
    target: CallbackTarget, followers: int, rate: float, seconds: float, sim: SimulatorState | None
) -> dict:
    """Open-loop load: messages arrive at ``rate``/s from random followers."""
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    latencies: list[float] = []
    sent: Counter[str] = Counter()
    passive: Counter[str] = Counter()
    failures = retried = 0
    msg_id = [int(time.time()) * 1000]
    # Events are deduplicated on FromUserName + CreateTime (seconds), so one follower's clicks
    # get distinct CreateTimes, as two taps within a second would not reach WeChat anyway.
    last_event: dict[str, int] = {}
    tasks: set[asyncio.Task] = set()

    async def one(http: httpx.AsyncClient, openid: str) -> None:
        nonlocal failures, retried
        msg_id[0] += 1
        if random.random() < 0.5:
            created = last_event[openid] = max(int(time.time()), last_event.get(openid, 0) + 1)
            xml = event_xml(target, openid, "CLICK", random.choice(CLICKS), create_time=created)
        else:
            xml = text_xml(target, openid, random.choice(TEXTS), msg_id[0])
        if sim is not None:
            sim.interacted(APP_ID, openid, subscribed=True)
        sent[openid] += 1
        result = await post_callback(http, target, xml)
        if result.status != 200:
            failures += 1
            return
        retried += result.attempts - 1
        if result.attempts == 1:
            latencies.append(result.elapsed)
        if result.reply is not None:
            passive[openid] += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits) as http:
        while time.perf_counter() - started < seconds:
            openid = f"o-soak-{random.randrange(followers)}"
            task = asyncio.create_task(one(http, openid))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(random.expovariate(rate))
        if tasks:
            await asyncio.wait(tasks)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"sent": sent, "passive": passive, "latencies": latencies, "failures": failures,
            "retried": retried, "elapsed": elapsed}  # fmt: skip


def figures(name: str, run: dict, custom: Counter[str], rss: float) -> dict:
    lat = run["latencies"] or [float("nan")]
    total = sum(run["sent"].values())
    dup = lost = 0
    for openid, n in run["sent"].items():
        answers = run["passive"][openid] + custom[openid]
        dup += max(0, answers - n)
        lost += max(0, n - answers)
    return {
        "name": name,
        "messages": total,
        "messages_per_s": round(total / run["elapsed"], 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
        "passive": sum(run["passive"].values()),
        "custom_send": sum(custom.values()),
        "duplicates": dup,
        "lost": lost,
        "http_failures": run["failures"],
        "wechat_retries": run["retried"],
        "peak_rss_mb": round(rss, 1),
    }


ECHO_APP = """
import sys, secrets
from fastapi import FastAPI, Request, Response
import uvicorn, xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply
crypto = WeChatCrypto(sys.argv[2], sys.argv[3], sys.argv[4])
app = FastAPI()
@app.get("/")
async def up():
    return "ok"
@app.post("/echo")
async def echo(request: Request):
    q = request.query_params
    xml = crypto.decrypt_message((await request.body()).decode(), q["msg_signature"], q["timestamp"], q["nonce"])
    msg = xmltodict.parse(xml)["xml"]
    reply = TextReply(source=msg["ToUserName"], target=msg["FromUserName"], content=msg.get("Content") or msg.get("EventKey") or "")
    return Response(crypto.encrypt_message(reply.render(), secrets.token_hex(8)), media_type="application/xml")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--followers", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--baseline-seconds", type=float, default=60.0)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument(
        "--database-url", default=None,
        help="default: a temporary SQLite file; a PostgreSQL database given here is emptied",
    )  # fmt: skip
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="wechat-soak-")
    db_url = args.database_url or f"sqlite:///{tmp}/kefu.db"
    print(f"preparing {db_url} …", flush=True)
    await prepare_database(db_url, args.followers, args.customers)

    # Baseline: the echo server.
    port = free_port()
    echo = subprocess.Popen([sys.executable, "-c", ECHO_APP, str(port), TOKEN, AES_KEY, APP_ID])
    try:
        await wait_up(f"http://127.0.0.1:{port}/", echo)
        target = CallbackTarget(f"http://127.0.0.1:{port}/echo", TOKEN, APP_ID, AES_KEY, "safe")
        await drive(target, args.followers, args.rate, args.warmup_seconds, None)  # not counted
        base_run = await drive(target, args.followers, args.rate, args.baseline_seconds, None)
        base = figures("echo baseline", base_run, Counter(), peak_rss_mb(echo.pid))
    finally:
        echo.send_signal(signal.SIGINT)
        echo.wait(10)
    print(json.dumps(base, ensure_ascii=False), flush=True)

    # kefu, with the WeChat API simulator in this process.
    state = SimulatorState()
    state.add_app(SimApp(APP_ID, "soak-secret", TOKEN, AES_KEY, "safe"))
    simulator = await serve(build_app(state))
    port = free_port()
    account = {"name": "soak", "app_id": APP_ID, "app_secret": "soak-secret", "token": TOKEN,
               "encoding_aes_key": AES_KEY, "mode": "safe"}  # fmt: skip
    env = dict(os.environ, KEFU_WECHAT_ACCOUNTS=json.dumps([account]),
               KEFU_WECHAT_API_BASE_URL=simulator.url, KEFU_LOG_LEVEL="WARNING",
               KEFU_SECRET_KEY="soak")  # fmt: skip
    kefu = subprocess.Popen(
        [sys.executable, "-c", "from kefu.cli import main; main()", "serve", "--port", str(port),
         "--database-url", db_url], env=env,
    )  # fmt: skip
    try:
        await wait_up(f"http://127.0.0.1:{port}/healthz", kefu)
        target = CallbackTarget(f"http://127.0.0.1:{port}/channels/wechat/soak", TOKEN, APP_ID,
                                AES_KEY, "safe")  # fmt: skip
        # Warm-up (not counted): the language models load on the first messages.
        await drive(target, args.followers, args.rate, args.warmup_seconds, state)
        state.sent.clear()
        run = await drive(target, args.followers, args.rate, args.minutes * 60, state)
        await asyncio.sleep(6)  # deferred answers still going out through custom-send
        custom = Counter(s.touser for s in state.sent if s.kind == "custom")
        async with httpx.AsyncClient() as http:  # what the channel refused at the door (503)
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        result = figures("kefu", run, custom, peak_rss_mb(kefu.pid))
        result["http_503"] = sum(
            float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
            if line.startswith("kefu_http_requests_total") and 'status="503"' in line
        )  # fmt: skip
    finally:
        kefu.send_signal(signal.SIGINT)
        try:
            kefu.wait(20)
        except subprocess.TimeoutExpired:
            kefu.kill()
        await simulator.stop()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    ratio = result["p99_ms"] / base["p99_ms"] if base["p99_ms"] else float("nan")
    print(
        f"kefu p99 / echo p99 = {ratio:.1f}x; kefu msg/s / echo msg/s = "
        f"{result['messages_per_s'] / base['messages_per_s']:.2f}",
        flush=True,
    )
    print(
        f"target p99 < 1000 ms: {'met' if result['p99_ms'] < 1000 else 'NOT met'}; "
        f"duplicates {result['duplicates']}, lost {result['lost']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
