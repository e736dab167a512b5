"""The outbound SMS API end to end, side by side with Jasmin's HTTP API.

Both send the same messages into the same SMPP simulator (``kefu sms simulator``, its own
process); the rate is counted at the simulator, from the first request to the last submit it
received. kefu runs as ``kefu serve`` (its own process, uvicorn, the outbox persisted in the
database given, SQLite by default), called with an admin API key:

- one recipient per request (like Jasmin's /send), ``--concurrency`` requests in flight;
- 100 recipients per request (kefu's API takes up to 1,000).

With ``--jasmin`` the same number of messages goes through Jasmin's HTTP API → its SMPP client
connector (see benchmarks/protocols_throughput.py for how to start jasmind, RabbitMQ and Redis).

    .venv/bin/python benchmarks/sms_api_throughput.py [--messages 5000] [--concurrency 50]
        [--database-url postgresql://…] [--jasmin]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from protocols_throughput import TEXT, Simulator, cpu_of, free_port, jasmin_run  # noqa: E402

KEFU = [sys.executable, "-m", "kefu.cli"]


class KefuServer:
    def __init__(self, url: str, sim: Simulator, log: str) -> None:
        self.port = free_port()
        link = {"name": "smsc", "protocol": "smpp", "port": sim.port, "username": "kefu",
                "password": "secret"}  # fmt: skip
        self.env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SMS_LINKS": json.dumps([link]),
                    "KEFU_LOG_LEVEL": "WARNING", "KEFU_SECRET_KEY": "bench"}  # fmt: skip
        subprocess.run([*KEFU, "db", "upgrade"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        made = subprocess.run([*KEFU, "apikey", "create", f"bench{self.port}", "--role", "admin"],
                              env=self.env, check=True, capture_output=True, text=True)  # fmt: skip
        self.key = next(w for w in made.stdout.split() if len(w) > 30)
        self.proc = subprocess.Popen(
            [*KEFU, "serve", "--port", str(self.port), "--no-migrate"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(log, "w"),  # noqa: SIM115 - the process's
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def submits(http: httpx.AsyncClient, sim: Simulator) -> int:
    return (await http.get(f"http://127.0.0.1:{sim.control}/stats")).json()["submits"]


async def kefu_run(server: KefuServer, sim: Simulator, total: int, per_request: int,
                   concurrency: int, first_number: int) -> tuple[float, float, float]:  # fmt: skip
    """Returns (messages/s at the simulator, accepted/s at the API, kefu CPU s per 1000)."""
    headers = {"Authorization": f"Bearer {server.key}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=120) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        base, cpu0, t0 = await submits(http, sim), cpu_of(server.proc.pid), time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def one(start: int) -> None:
            numbers = [f"139{first_number + n:08d}" for n in range(start, start + per_request)]
            async with sem:
                r = await http.post("/api/v1/sms/messages",
                                    json={"to": numbers, "text": TEXT, "kind": "notification"})  # fmt: skip
            if r.status_code != 202 or len(r.json()["accepted"]) != len(numbers):
                raise RuntimeError(f"kefu refused: {r.status_code} {r.text[:300]}")

        await asyncio.gather(*(one(s) for s in range(0, total, per_request)))
        accepted = time.perf_counter() - t0
        while await submits(http, sim) - base < total:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu = cpu_of(server.proc.pid) - cpu0
    return total / elapsed, total / accepted, cpu / total * 1000


async def main(args: argparse.Namespace) -> None:
    sim = Simulator("smpp")
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    log = f"{tmp.name}/serve.log"
    server = KefuServer(url, sim, log)
    try:
        print(f"{args.messages:,} messages each into one SMPP simulator; database "
              f"{url.split('://')[0]}; {args.concurrency} requests in flight")  # fmt: skip
        rows = []
        for label, per_request, first in (("kefu API, 1 recipient/request", 1, 0),
                                          ("kefu API, 100 recipients/request", 100, 10**6)):  # fmt: skip
            rate, acc, cpu = await kefu_run(server, sim, args.messages, per_request,
                                            args.concurrency, first)  # fmt: skip
            rows.append((label, rate))
            print(f"  {label:<36} {rate:>8,.0f} msg/s at the simulator   (API accepted "
                  f"{acc:,.0f}/s; kefu CPU {cpu:.3f} s/1000)")  # fmt: skip
        if args.jasmin:
            run = await jasmin_run(sim, args.messages, args.concurrency)
            rows.append(("Jasmin HTTP API, 1 recipient/request", run.rate))
            print(f"  {'Jasmin HTTP API, 1 recipient/request':<36} {run.rate:>8,.0f} msg/s at "
                  f"the simulator   (jasmind+RabbitMQ CPU {run.client_cpu / run.messages * 1000:.3f} "
                  f"s/1000)")  # fmt: skip
            print(f"  ratio kefu/Jasmin, 1 recipient/request: {rows[0][1] / run.rate:.1f}x; "
                  f"kefu batched/Jasmin: {rows[1][1] / run.rate:.1f}x")  # fmt: skip
    except Exception:
        print(Path(log).read_text()[:6000])  # the server's side of the failure
        raise
    finally:
        server.stop()
        sim.stop()
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--jasmin", action="store_true")
    asyncio.run(main(parser.parse_args()))
