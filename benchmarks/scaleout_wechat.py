"""WeChat callbacks through nginx (deploy/nginx/kefu.conf) to `kefu serve --workers N`, for
N = 1, 2, 4, on PostgreSQL with the Redis bus: for each N the offered rate steps up until the
passive-reply p99 passes 1 s (or a callback fails) twice in a row; the figure is the highest
rate achieved with p99 < 1 s, and the ratios N workers / 1 worker are from this one run. The
web processes' CPU time per message is printed too: it does not depend on what else the machine
runs, so it shows what N processes cost per message whatever the load.

    .venv/bin/python benchmarks/scaleout_wechat.py \\
        --database-url postgresql://kefu:kefu@127.0.0.1:5432/kefu_bench \\
        --bus-url redis://127.0.0.1:6379/7 --rates 10,20,30,40,55,70,90 --seconds 20

The load generator (signing, AES, open-loop arrivals; benchmarks/wechat_soak.py) runs in this
process on the same machine, and the WeChat API simulator too: on a 2-core machine they take
CPU from kefu, so the ratios, not the absolute rates, are what carry over. The load average is
printed before and after each step (other work on the machine moves the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from benchmarks.wechat_soak import (  # noqa: E402
    AES_KEY,
    APP_ID,
    TOKEN,
    drive,
    figures,
    prepare_database,
)
from tests.scaleout.test_nginx import NGINX, free_port, nginx_conf, web_processes  # noqa: E402

from kefu.channels.wechat.simulator import SimApp, SimulatorState, build_app  # noqa: E402
from kefu.channels.wechat.simulator.follower import CallbackTarget  # noqa: E402
from kefu.channels.wechat.simulator.serve import serve  # noqa: E402


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of ``root`` and its children: the web processes' work,
    whatever else the machine runs."""
    tick = os.sysconf("SC_CLK_TCK")
    out = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout
    total = 0.0
    for pid in [root, *map(int, out.split())]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_web(workers: int, db_url: str, bus_url: str, api_url: str, port: int, log: Path,
              role: str = "web"):  # fmt: skip
    """``kefu serve --workers N``; role ``all`` also starts `kefu run workers` beside them
    (the relays: the WeChat recovery of answers a dead process left among them)."""
    account = {"name": "soak", "app_id": APP_ID, "app_secret": "soak-secret", "token": TOKEN,
               "encoding_aes_key": AES_KEY, "mode": "safe"}  # fmt: skip
    env = dict(os.environ, KEFU_WECHAT_ACCOUNTS=json.dumps([account]), KEFU_ROLE=role,
               KEFU_WECHAT_API_BASE_URL=api_url, KEFU_LOG_LEVEL="INFO", KEFU_SECRET_KEY="soak",
               KEFU_DATABASE_URL=db_url, KEFU_BUS_URL=bus_url,
               KEFU_FORWARDED_ALLOW_IPS='["127.0.0.1"]')  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "serve", "--workers", str(workers), "--no-migrate",
         "--port", str(port)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


async def wait_ready(
    log: Path, processes: int, web: subprocess.Popen, seconds: float = 300
) -> None:
    deadline = time.monotonic() + seconds
    while log.read_text(errors="replace").count("Application startup complete") < processes:
        if web.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"kefu did not start:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.5)


def stop(process: subprocess.Popen, seconds: float = 20) -> None:
    process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def one_setting(args, workers: int, db_url: str, api_url: str, state, tmp: Path) -> dict:
    kefu_port, listen = free_port(), free_port()
    log = tmp / f"kefu-{workers}.log"
    web = start_web(workers, db_url, args.bus_url, api_url, kefu_port, log)
    conf_dir = tmp / f"nginx-{workers}"
    conf_dir.mkdir()
    nginx = subprocess.Popen([NGINX, "-c", str(nginx_conf(conf_dir, kefu_port=kefu_port,
                                                          listen=listen))])  # fmt: skip
    steps: list[dict] = []
    try:
        await wait_ready(log, workers, web)
        target = CallbackTarget(f"http://127.0.0.1:{listen}/channels/wechat/soak", TOKEN, APP_ID,
                                AES_KEY, "safe")  # fmt: skip
        # Warm-up (not counted): each process loads its language models on its first messages.
        await drive(target, args.followers, args.rates[0], args.warmup_seconds, state)
        await asyncio.sleep(6)  # the warm-up's deferred answers are sent before counting starts
        for rate in args.rates:
            before = loadavg()
            state.sent.clear()
            cpu = cpu_seconds(web.pid)
            run = await drive(target, args.followers, rate, args.seconds, state)
            cpu = cpu_seconds(web.pid) - cpu
            await asyncio.sleep(2)
            custom = Counter(s.touser for s in state.sent if s.kind == "custom")
            step = figures(f"{workers} workers @ {rate}/s", run, custom, float("nan"))
            messages = max(sum(run["sent"].values()), 1)
            step.update(offered=rate, load_before=before, load_after=loadavg(),
                        cpu_ms_per_message=round(cpu / messages * 1000, 1))  # fmt: skip
            step.pop("peak_rss_mb")
            print(json.dumps(step, ensure_ascii=False), flush=True)
            steps.append(step)
            # Two failing steps in a row end it (one alone may be the machine's other work).
            if all(s["p99_ms"] >= 1000 or s["http_failures"] for s in steps[-2:]) and (
                len(steps) >= 2 or step["http_failures"]
            ):
                break
    finally:
        nginx.terminate()
        nginx.wait(10)
        stop(web)
    good = [s for s in steps if s["p99_ms"] < 1000 and not s["http_failures"]]
    best = max(good, key=lambda s: s["messages_per_s"]) if good else None
    cpu = [s["cpu_ms_per_message"] for s in steps]
    return {"workers": workers, "best_msg_per_s": best["messages_per_s"] if best else 0.0,
            "at_p99_ms": best["p99_ms"] if best else None,
            "cpu_ms_per_message_median": sorted(cpu)[len(cpu) // 2] if cpu else None,
            "duplicates": sum(s["duplicates"] for s in steps),
            "lost": sum(s["lost"] for s in steps), "steps": len(steps)}  # fmt: skip


async def drill(args, db_url: str, api_url: str, state, tmp: Path) -> dict:
    """kill -9 of one of 2 web processes halfway through a run at ``--drill-rate``: WeChat's
    retries (same MsgId) go to the other process; counted per follower, an answer given twice
    is a duplicate and a message never answered (passively or by custom-send) is lost."""
    kefu_port, listen = free_port(), free_port()
    log = tmp / "kefu-drill.log"
    web = start_web(2, db_url, args.bus_url, api_url, kefu_port, log, role="all")
    conf_dir = tmp / "nginx-drill"
    conf_dir.mkdir()
    nginx = subprocess.Popen([NGINX, "-c", str(nginx_conf(conf_dir, kefu_port=kefu_port,
                                                          listen=listen))])  # fmt: skip
    try:
        await wait_ready(log, 2, web)
        target = CallbackTarget(f"http://127.0.0.1:{listen}/channels/wechat/soak", TOKEN, APP_ID,
                                AES_KEY, "safe")  # fmt: skip
        await drive(target, args.followers, args.drill_rate, args.warmup_seconds, state)
        state.sent.clear()

        async def kill_one() -> None:
            await asyncio.sleep(args.seconds / 2)
            victim = web_processes(web)[0]
            os.kill(victim, signal.SIGKILL)
            print(f"killed web process {victim} (-9) at {args.seconds / 2:.0f} s", flush=True)

        killer = asyncio.create_task(kill_one())
        run = await drive(target, args.followers, args.drill_rate, args.seconds, state)
        await killer
        # Answers deferred past the window go out by custom-send; those the killed process
        # was computing, after KEFU_WECHAT_RECOVER_AFTER (60 s by default) by the recovery.
        await asyncio.sleep(args.recover_wait)
        custom = Counter(s.touser for s in state.sent if s.kind == "custom")
        result = figures("kill -9 drill, 2 workers", run, custom, float("nan"))
        result.pop("peak_rss_mb")
        recovered = log.read_text(errors="replace").count("wechat_answer_recovered")
        result.update(offered=args.drill_rate, load=loadavg(), recovered=recovered)
        return result
    finally:
        nginx.terminate()
        nginx.wait(10)
        stop(web)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL; emptied first")
    parser.add_argument("--bus-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rates", default="10,20,30,40,55,70,90",
                        help="offered messages/s, stepped up until p99 >= 1 s")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=20.0, help="per step")
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("--followers", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--drill", action="store_true",
                        help="only the kill -9 drill: 2 workers, one killed halfway")  # fmt: skip
    parser.add_argument("--drill-rate", type=float, default=5.0)
    parser.add_argument("--recover-wait", type=float, default=80.0,
                        help="seconds after the drill's run before counting (the recovery "
                        "answers what the killed process left after 60 s)")  # fmt: skip
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    if NGINX is None:
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    tmp = Path(tempfile.mkdtemp(prefix="scaleout-wechat-"))
    print(f"load average at start: {loadavg()}  (cores: {os.cpu_count()})", flush=True)
    await prepare_database(args.database_url, args.followers, args.customers)
    state = SimulatorState()
    state.add_app(SimApp(APP_ID, "soak-secret", TOKEN, AES_KEY, "safe"))
    simulator = await serve(build_app(state))
    results = []
    if args.drill:
        try:
            print(json.dumps(await drill(args, args.database_url, simulator.url, state, tmp)))
        finally:
            await simulator.stop()
        return
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            result = await one_setting(args, workers, args.database_url, simulator.url, state, tmp)
            print(json.dumps(result), flush=True)
            results.append(result)
    finally:
        await simulator.stop()
    one = next((r for r in results if r["workers"] == 1), None)
    for r in results:
        if one and one["best_msg_per_s"]:
            print(f"{r['workers']} workers: {r['best_msg_per_s']} msg/s at p99 < 1 s = "
                  f"{r['best_msg_per_s'] / one['best_msg_per_s']:.2f}x one worker; "
                  f"{r['cpu_ms_per_message_median']} CPU-ms per message; "
                  f"duplicates {r['duplicates']}, lost {r['lost']}")  # fmt: skip
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
