"""Web chat under load on one kefu process: many visitors holding SSE streams while some of
them ask self-service questions.

    .venv/bin/python benchmarks/webchat_load.py --visitors 2000 --rate 10 --seconds 60 --runs 3

kefu runs as `kefu serve` (one uvicorn process, SQLite, the synthetic bank) in a subprocess;
this process is the browsers. Each run: open N sessions and N SSE streams, then send --rate
messages per second for --seconds, spread over the visitors ("帮助", "附近网点排队",
"大额存单怎么买" — self-service answers). A reply's latency is counted where it arrives: from
the POST until its answer's event is read on that visitor's stream. The baseline in the same
run is the same messages with no other stream open (one visitor at a time). Memory per idle
stream is the server's RSS growth while the N streams open, divided by N. Prints p50/p99 per
run and the medians of the runs, with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ORIGIN = "http://bench.example"
TEXTS = ("帮助", "附近网点排队", "大额存单怎么买", "信用卡怎么挂失")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Visitor:
    def __init__(self, http: httpx.AsyncClient, session: dict) -> None:  # type: ignore[type-arg]
        self.http, self.session = http, session
        self.api = f"/channels/webchat/bench/sessions/{session['session']}"
        self.auth = {"Authorization": f"Bearer {session['token']}"}
        self.waiting: dict[int, tuple[float, asyncio.Future[float]]] = {}
        self.task: asyncio.Task[None] | None = None

    async def listen(self, opened: asyncio.Event) -> None:
        url = f"{self.api}/events?token={self.session['token']}&after=1"
        async with self.http.stream("GET", url) as stream:
            opened.set()
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "message":
                    message = json.loads(line[6:])
                    if message["sender"] == "bot":
                        # The answer to the newest message asked before this reply's seq.
                        asked = [s for s in self.waiting if s < message["seq"]]
                        if asked:
                            started, done = self.waiting.pop(max(asked))
                            if not done.done():
                                done.set_result((time.perf_counter() - started) * 1000)

    async def ask(self, text: str) -> float:
        started = time.perf_counter()
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        response = await self.http.post(f"{self.api}/messages", json={"text": text},
                                         headers=self.auth)  # fmt: skip
        response.raise_for_status()
        self.waiting[response.json()["seq"]] = (started, done)
        return await asyncio.wait_for(done, 30)


async def open_visitors(http: httpx.AsyncClient, count: int) -> list[Visitor]:
    visitors = []
    for start in range(0, count, 100):
        replies = await asyncio.gather(
            *(http.post("/channels/webchat/bench/sessions", json={})
              for _ in range(min(100, count - start)))
        )  # fmt: skip
        visitors += [Visitor(http, r.raise_for_status().json()) for r in replies]
    return visitors


async def listen_all(visitors: list[Visitor]) -> None:
    for start in range(0, len(visitors), 200):
        batch = visitors[start : start + 200]
        events = [asyncio.Event() for _ in batch]
        for visitor, opened in zip(batch, events, strict=True):
            visitor.task = asyncio.create_task(visitor.listen(opened))
        await asyncio.gather(*(e.wait() for e in events))


async def paced(visitors: list[Visitor], rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    tasks = []
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        visitor = random.choice(visitors)
        tasks.append(asyncio.create_task(visitor.ask(random.choice(TEXTS))))
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, float):
            latencies.append(result)
    lost = len(tasks) - len(latencies)
    if lost:
        print(f"    {lost} of {len(tasks)} replies did not arrive within 30 s")
    return latencies


async def one_run(url: str, pid: int, args: argparse.Namespace) -> dict[str, float]:
    limits = httpx.Limits(max_connections=args.visitors + 200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, headers={"Origin": ORIGIN}, limits=limits,
                                 timeout=httpx.Timeout(60, read=None)) as http:  # fmt: skip
        # Baseline: the same questions, no other stream open.
        alone = await open_visitors(http, 20)
        await listen_all(alone)
        for text in TEXTS * 3:  # warm-up: the server loads its language models on first use
            await alone[0].ask(text)
        baseline = await paced(alone, args.rate, args.seconds / 3)
        for visitor in alone:
            assert visitor.task is not None
            visitor.task.cancel()
        await asyncio.sleep(1)
        before = rss_kib(pid)
        visitors = await open_visitors(http, args.visitors)
        await listen_all(visitors)
        await asyncio.sleep(2)
        per_stream = (rss_kib(pid) - before) / args.visitors
        loaded = await paced(visitors, args.rate, args.seconds)
        for visitor in visitors:
            assert visitor.task is not None
            visitor.task.cancel()
        await asyncio.gather(*(v.task for v in visitors if v.task), return_exceptions=True)
    return {
        "base_p50": statistics.median(baseline), "base_p99": pct(baseline, 0.99),
        "p50": statistics.median(loaded), "p99": pct(loaded, 0.99), "kib": per_stream,
        "answered": len(loaded),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second, total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'kefu.db'}"
        kefu = [sys.executable, "-m", "kefu.cli"]
        subprocess.run([*kefu, "db", "upgrade", "--database-url", db], check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run([*kefu, "seed", "--customers", str(args.customers), "--database-url", db],
                       check=True, capture_output=True)  # fmt: skip
        site = {"name": "bench", "origins": [ORIGIN], "messages_per_minute": 600,
                "sessions_per_minute": 100_000}  # fmt: skip
        port = free_port()
        env = {**os.environ, "KEFU_DATABASE_URL": db, "KEFU_WEBCHAT_SITES": json.dumps([site]),
               "KEFU_LOG_LEVEL": "WARNING", "KEFU_SECRET_KEY": "bench"}  # fmt: skip
        server = subprocess.Popen([*kefu, "serve", "--port", str(port), "--no-migrate"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            results = []
            for run in range(1, args.runs + 1):
                r = asyncio.run(one_run(url, server.pid, args))
                results.append(r)
                print(
                    f"run {run}: {args.visitors} streams, {args.rate:g} msg/s for {args.seconds:g} s: "
                    f"reply p50 {r['p50']:.0f} ms p99 {r['p99']:.0f} ms ({r['answered']:.0f} answered); "
                    f"baseline (no other stream) p50 {r['base_p50']:.0f} ms p99 {r['base_p99']:.0f} ms; "
                    f"{r['kib']:.1f} KiB per idle stream"
                )
            med = {k: statistics.median(r[k] for r in results) for k in results[0]}
            print(
                f"median of {args.runs}: reply p50 {med['p50']:.0f} ms, p99 {med['p99']:.0f} ms "
                f"(baseline p99 {med['base_p99']:.0f} ms, x{med['p99'] / med['base_p99']:.2f}); "
                f"{med['kib']:.1f} KiB per idle stream"
            )
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
