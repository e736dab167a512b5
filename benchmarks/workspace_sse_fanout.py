"""Open workspace pages and the database: statements per second while N agents' inboxes are
open (their SSE stream ``/workspace/events``), polling vs the bus.

Each configuration runs ``kefu serve`` (its own process) on one PostgreSQL database, opens N
event streams with one agent's session, lets them settle, then counts the database's committed
transactions (``pg_stat_database.xact_commit``, every marker read is one) over ``--seconds``:

- before: a source tree given with ``--before`` (e.g. ``git worktree add /tmp/base 94f6bc6``),
  whose streams read the marker twice a second;
- in-process bus (``KEFU_BUS_URL`` empty): woken by signals, reading every 2 s otherwise;
- Redis bus (``--redis redis://127.0.0.1:6379/5``): every 30 s otherwise.

A write through the app (an agent's note) is then made and the time until every open stream has
said ``changed`` is printed (the wake-up's latency), per configuration. Load average before and
after; ``--repeat`` runs, medians.

    .venv/bin/python benchmarks/workspace_sse_fanout.py --database-url postgresql://kefu:kefu@127.0.0.1:5432/kefu_bench \\
        [--pages 1000] [--seconds 20] [--redis redis://127.0.0.1:6379/5] [--before /tmp/base/src] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import asyncpg
import httpx

KEFU = [sys.executable, "-m", "kefu.cli"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def prepare(url: str) -> None:
    env = {**os.environ, "KEFU_DATABASE_URL": url}
    subprocess.run([*KEFU, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
    code = (
        "import asyncio,sys; from kefu.demo import ensure_demo_data; "
        "asyncio.run(ensure_demo_data(sys.argv[1]))"
    )
    subprocess.run([*KEFU, "seed", "--customers", "50"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run([sys.executable, "-c", code, url], env=env, check=True)


class Server:
    def __init__(self, url: str, bus: str, src: str | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_BUS_URL": bus,
               "KEFU_LOG_LEVEL": "WARNING", "KEFU_SECRET_KEY": "bench"}  # fmt: skip
        if src:
            env["PYTHONPATH"] = src
        made = subprocess.run([*KEFU, "apikey", "create", f"bench{self.port}", "--role", "admin"],
                              env=env, check=True, capture_output=True, text=True)  # fmt: skip
        self.key = next(w for w in made.stdout.split() if len(w) > 30)
        self.process = subprocess.Popen([*KEFU, "serve", "--no-migrate", "--port", str(self.port)],
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("kefu serve did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


async def login(client: httpx.AsyncClient) -> None:
    token = CSRF.search((await client.get("/login")).text).group(1)  # type: ignore[union-attr]
    await client.post("/login", data={"username": "agent1", "password": "kefu-demo-2026",
                                      "csrf": token})  # fmt: skip


async def commits(url: str) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))  # fmt: skip
    finally:
        await conn.close()


async def one_config(name: str, url: str, bus: str, src: str | None,
                     args: argparse.Namespace) -> tuple[float, float]:  # fmt: skip
    server = Server(url, bus, src)
    changed: list[float] = []
    try:
        limits = httpx.Limits(max_connections=args.pages + 10)
        async with httpx.AsyncClient(base_url=server.base, timeout=120, limits=limits) as client:
            await login(client)
            ready = asyncio.Event()
            opened = 0

            failed: list[str] = []

            async def page() -> None:
                try:
                    await one_page()
                except httpx.HTTPError as exc:  # counted and printed, not a crash of the run
                    failed.append(type(exc).__name__)
                    if not ready.is_set() and opened + len(failed) >= args.pages:
                        ready.set()

            async def one_page() -> None:
                nonlocal opened
                async with client.stream("GET", "/workspace/events",
                                         params={"max_seconds": 3600}) as stream:  # fmt: skip
                    hello = False
                    async for line in stream.aiter_lines():
                        if line.startswith("event: hello") and not hello:
                            hello = True
                            opened += 1
                            if opened + len(failed) == args.pages:
                                ready.set()
                        elif line.startswith("event: changed"):
                            changed.append(time.perf_counter())
                            return

            tasks = [asyncio.create_task(page()) for _ in range(args.pages)]
            await asyncio.wait_for(ready.wait(), 300)
            await asyncio.sleep(3)  # settle
            first = await commits(url)
            await asyncio.sleep(args.seconds)
            rate = (await commits(url) - first) / args.seconds
            # A write through the app: a conversation handed to routing (its message and routing
            # events are committed; either wakes the streams).
            wrote = time.perf_counter()
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as system:
                made = await system.post(
                    "/api/v1/conversations", headers={"Authorization": f"Bearer {server.key}"},
                    json={"channel": "webchat", "contact": "bench", "text": "你好"},
                )  # fmt: skip
            assert made.status_code == 201, made.text
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks), 120)
            for task in tasks:
                task.cancel()
            woke = (max(changed) - wrote) if changed else float("nan")
    finally:
        server.stop()
    print(f"  {name:<18} {args.pages} pages: {rate:8.1f} commits/s, all woken in {woke:6.2f} s "
          f"({len(changed)} of {args.pages}; streams that failed: {len(failed)})")  # fmt: skip
    return rate, woke


async def main(args: argparse.Namespace) -> None:
    prepare(args.database_url)
    configs: list[tuple[str, str, str | None]] = []
    if args.before:
        configs.append(("before (polling)", "", args.before))
    configs.append(("in-process bus", "", None))
    if args.redis:
        configs.append(("Redis bus", args.redis, None))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in configs}
    print(f"load before: {load()}")
    for run in range(args.repeat):
        print(f"run {run + 1}")
        for name, bus, src in configs:
            results[name].append(await one_config(name, args.database_url, bus, src, args))
    print(f"load after: {load()}")
    print("medians:")
    for name, rows in results.items():
        print(f"  {name:<18} {median(r for r, _ in rows):8.1f} commits/s, "
              f"woken in {median(w for _, w in rows):6.2f} s")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--redis", default="")
    parser.add_argument("--before", default=None)
    parser.add_argument("--repeat", type=int, default=1)
    sys.path.insert(0, str(Path(__file__).parent))
    asyncio.run(main(parser.parse_args()))
