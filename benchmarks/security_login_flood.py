"""Login flood (issue 21, finding 3): does a flood of logins stall the server?

Run: .venv/bin/python benchmarks/security_login_flood.py [--attempts 300] [--in-flight 30]

Starts kefu in a subprocess (uvicorn, the production argon2 profile, SQLite in a temporary
directory), measures ``/healthz`` while idle, then sends ``--attempts`` logins for unknown
users with wrong passwords, ``--in-flight`` at a time, while probing ``/healthz`` every 50 ms.
Two rounds:

- ``default limits``: every attempt comes from one address, so after
  ``login_ip_max_failures`` (20) the address is refused without hashing;
- ``per-address limit lifted`` (``KEFU_LOGIN_IP_MAX_FAILURES=10000``): every attempt is
  hashed, which is what a flood from many addresses costs.

Printed per round: logins/s, login p50/p99, ``/healthz`` p50/p99 idle and during the flood,
the number of 5xx answers, the audited failed logins (must equal the attempts), and the
load average before and after. ``KEFU_BENCH_PYTHONPATH`` runs another source tree (e.g. the
code before the fix) with the same client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SERVER = """
import sys, uvicorn
from kefu.app import create_app
from kefu.config import load_settings
uvicorn.run(create_app(load_settings()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def _probe(http: httpx.AsyncClient, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await http.get("/healthz")
        out.append(time.perf_counter() - start)
        await asyncio.sleep(0.05)


async def _flood(base: str, attempts: int, in_flight: int) -> dict[str, object]:
    async with (
        httpx.AsyncClient(base_url=base, timeout=120) as http,
        httpx.AsyncClient(base_url=base, timeout=120) as probe,
    ):
        idle = []
        for _ in range(60):
            start = time.perf_counter()
            await probe.get("/healthz")
            idle.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
        token = CSRF.search((await http.get("/login")).text).group(1)
        gate = asyncio.Semaphore(in_flight)
        timings: list[float] = []
        statuses: list[int] = []

        async def one(n: int) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    answer = await http.post("/login", data={
                        "username": f"nobody{n}", "password": f"wrong-password-{n}",
                        "csrf": token, "next": "/"}, follow_redirects=False)  # fmt: skip
                    statuses.append(answer.status_code)
                except httpx.HTTPError:
                    statuses.append(599)
                timings.append(time.perf_counter() - start)

        stop = asyncio.Event()
        during: list[float] = []
        prober = asyncio.create_task(_probe(probe, stop, during))
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(attempts)))
        elapsed = time.perf_counter() - start
        stop.set()
        await prober
        return {
            "elapsed": elapsed,
            "timings": timings,
            "statuses": statuses,
            "idle": idle,
            "during": during,
            "load": (load_before, os.getloadavg()[0]),
        }


def _audited(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT count(*) FROM audit_log WHERE action IN "
            "('login.failed', 'login.locked_out', 'login.refused_locked')"
        ).fetchone()[0]


def run(label: str, attempts: int, in_flight: int, extra_env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kefu.db"
        url = f"sqlite:///{db}"
        env = {k: v for k, v in os.environ.items() if k != "KEFU_PASSWORD_HASHING"}
        env.update({"KEFU_DATABASE_URL": url, "KEFU_SECRET_KEY": "bench",
                    "KEFU_ROUTING_TICK": "0", **extra_env})  # fmt: skip
        if os.environ.get("KEFU_BENCH_PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["KEFU_BENCH_PYTHONPATH"]
        subprocess.run([sys.executable, "-c", "import sys; from kefu.db.migrate import upgrade; "
                        "upgrade(sys.argv[1])", url], env=env, check=True)  # fmt: skip
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            result = asyncio.run(_flood(base, attempts, in_flight))
        finally:
            server.terminate()
            server.wait(timeout=20)
        audited = _audited(db)
    statuses = result["statuses"]
    timings = result["timings"]
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"\n== {label}: {attempts} logins for unknown users, {in_flight} in flight")
    print(f"answers            {counts}")
    print(f"5xx answers        {sum(1 for s in statuses if s >= 500)}")
    print(f"audited failures   {audited} of {attempts}")
    print(f"logins/s           {attempts / result['elapsed']:.1f} "
          f"(whole flood {result['elapsed']:.1f} s)")  # fmt: skip
    print(f"login p50/p99      {_pct(timings, 50):.0f} / {_pct(timings, 99):.0f} ms")
    print(f"/healthz idle      p50 {_pct(result['idle'], 50):.1f} ms, "
          f"p99 {_pct(result['idle'], 99):.1f} ms")  # fmt: skip
    print(f"/healthz in flood  p50 {_pct(result['during'], 50):.1f} ms, "
          f"p99 {_pct(result['during'], 99):.1f} ms, max {max(result['during']) * 1000:.1f} ms "
          f"({len(result['during'])} probes)")  # fmt: skip
    print(f"load average (1m)  before {result['load'][0]:.2f}, after {result['load'][1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=30)
    parser.add_argument("--only", choices=["default", "lifted"])
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    if args.only in (None, "default"):
        run("default limits", args.attempts, args.in_flight, {})
    if args.only in (None, "lifted"):
        run("per-address limit lifted", args.attempts, args.in_flight,
            {"KEFU_LOGIN_IP_MAX_FAILURES": "10000"})  # fmt: skip


if __name__ == "__main__":
    main()
