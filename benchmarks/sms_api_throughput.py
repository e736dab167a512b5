"""The outbound SMS API end to end, side by side with Jasmin's HTTP API.

Both send the same messages into the same SMPP simulator (``kefu sms simulator``, its own
process); the rate is counted at the simulator, from the first request to the last submit it
received. kefu runs as ``kefu serve`` (its own process, uvicorn, the outbox persisted in the
database given, SQLite by default), called with an admin API key:

- one recipient per request (like Jasmin's /send), ``--concurrency`` requests in flight;
- 100 recipients per request (kefu's API takes up to 1,000).

With ``--jasmin`` the same number of messages goes through Jasmin's HTTP API → its SMPP client
connector (see benchmarks/protocols_throughput.py for how to start jasmind, RabbitMQ and Redis).

Messages are counted where they arrive (the simulator: delivered, not merely accepted by the
API); CPU is the ``kefu serve`` process's own (from /proc: with PostgreSQL the database
server's CPU is not in it); with ``--gateway separate`` the API runs with
KEFU_SMS_GATEWAY_IN_WEB=false and ``kefu run sms`` sends (a real deployment), and the CPU is
both processes'. With ``--before <tree>/src`` a second source tree (e.g. ``git
worktree add /tmp/base <commit>``) runs alternately with this one, ``--repeat`` times each,
each server on an empty database; the load average is printed before and after, and medians.

    .venv/bin/python benchmarks/sms_api_throughput.py [--messages 2000] [--batched-messages
        10000] [--concurrency 50] [--links 4] [--repeat 3] [--before /tmp/base/src]
        [--database-url postgresql://…] [--gateway separate] [--jasmin]
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from statistics import median

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import raw_http  # noqa: E402
from protocols_throughput import TEXT, Simulator, cpu_of, free_port, jasmin_run  # noqa: E402

KEFU = [sys.executable, "-m", "kefu.cli"]


class KefuServer:
    def __init__(self, url: str, sim: Simulator, log: str, src: str | None = None,
                 links: int = 1, separate: bool = False, log_level: str = "WARNING") -> None:  # fmt: skip
        self.port = free_port()
        self.links = [f"smsc{n}" if n else "smsc" for n in range(links)]
        config = [{"name": name, "protocol": "smpp", "port": sim.port, "username": "kefu",
                   "password": "secret"} for name in self.links]  # fmt: skip
        self.env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SMS_LINKS": json.dumps(config),
                    "KEFU_LOG_LEVEL": log_level, "KEFU_SECRET_KEY": "bench"}  # fmt: skip
        if src:  # another source tree (the "before" of a before/after run)
            self.env["PYTHONPATH"] = src
        subprocess.run([*KEFU, "db", "upgrade"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        made = subprocess.run([*KEFU, "apikey", "create", f"bench{self.port}", "--role", "admin"],
                              env=self.env, check=True, capture_output=True, text=True)  # fmt: skip
        self.key = next(w for w in made.stdout.split() if len(w) > 30)
        self.base = f"http://127.0.0.1:{self.port}"
        self.gateway: subprocess.Popen[bytes] | None = None
        if separate:  # a real deployment: the API only queues, `kefu run sms` sends
            self.env["KEFU_SMS_GATEWAY_IN_WEB"] = "false"
            self.gateway = subprocess.Popen(
                [*KEFU, "run", "sms"], env=self.env, stdout=subprocess.DEVNULL,
                stderr=open(log + ".gateway", "w"),  # noqa: SIM115 - the process's
            )  # fmt: skip
        self.proc = subprocess.Popen(
            [*KEFU, "serve", "--port", str(self.port), "--no-migrate"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(log, "w"),  # noqa: SIM115 - the process's
        )  # fmt: skip

    def pids(self) -> list[int]:
        return [p.pid for p in (self.proc, self.gateway) if p is not None]

    def cpu(self) -> float:
        """CPU seconds of kefu's processes (the API's and, when separate, the gateway's)."""
        return sum(cpu_of(pid) for pid in self.pids())

    def stop(self) -> None:
        for proc in (self.proc, self.gateway):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(120)  # a loaded machine stops it slowly (the gateway's batch in flight)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def submits(http: httpx.AsyncClient, sim: Simulator) -> int:
    return (await http.get(f"http://127.0.0.1:{sim.control}/stats")).json()["submits"]


async def kefu_run(server: KefuServer, sim: Simulator, total: int, per_request: int,
                   concurrency: int, first_number: int,
                   client_kind: str = "raw") -> tuple[float, float, float, float]:  # fmt: skip
    """Returns (messages/s at the simulator, accepted/s at the API, kefu CPU s per 1000, the
    load generator's own CPU s per 1000 requests — this process, httpx: on a 2-core machine it
    shares the cores with the server, so it is printed to show what bounds the rate)."""
    headers = {"Authorization": f"Bearer {server.key}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=120) as http:
        for _ in range(1800):  # 3 minutes: a loaded machine starts the server slowly
            try:
                if (await http.get("/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        base, cpu0, t0 = await submits(http, sim), server.cpu(), time.perf_counter()
        client0 = time.process_time()
        sem = asyncio.Semaphore(concurrency)

        def body(start: int) -> dict[str, object]:
            numbers = [f"139{first_number + n:08d}" for n in range(start, start + per_request)]
            link = server.links[(start // per_request) % len(server.links)]
            return {"to": numbers, "text": TEXT, "kind": "notification", "link": link}

        async def one(start: int) -> None:
            async with sem:
                r = await http.post("/api/v1/sms/messages", json=body(start))
            if r.status_code != 202 or len(r.json()["accepted"]) != per_request:
                raise RuntimeError(f"kefu refused: {r.status_code} {r.text[:300]}")

        starts = range(0, total, per_request)
        if client_kind == "raw":
            # Encoded before the clock starts: the generator's work per request is the write
            # and the read. Every recipient accepted ⇔ nothing refused.
            requests = [raw_http.post_json("/api/v1/sms/messages", f"127.0.0.1:{server.port}",
                                           json.dumps(body(s)).encode(), headers)
                        for s in starts]  # fmt: skip
            base, cpu0, t0 = await submits(http, sim), server.cpu(), time.perf_counter()
            client0 = time.process_time()
            await raw_http.run("127.0.0.1", server.port, requests, concurrency,
                               lambda status, answer: status == 202
                               and b'"refused":[]' in answer)  # fmt: skip
        else:
            await asyncio.gather(*(one(s) for s in starts))
        accepted = time.perf_counter() - t0
        client = time.process_time() - client0
        while await submits(http, sim) - base < total:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu = server.cpu() - cpu0
    requests = -(-total // per_request)
    return total / elapsed, total / accepted, cpu / total * 1000, client / requests * 1000


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def measure(url_for: Callable[[str], Awaitable[str]], sim: Simulator, src: str | None, args: argparse.Namespace,
                  tmp: str, tag: str) -> dict[str, tuple[float, float, float, float]]:  # fmt: skip
    """One server from one tree: both request shapes; (delivered/s, accepted/s, CPU-ms/msg)."""
    log = f"{tmp}/serve-{tag}.log"
    server = KefuServer(await url_for(tag), sim, log, src, args.links, args.gateway == "separate",
                        args.log_level)  # fmt: skip
    try:
        return {
            "1": await kefu_run(server, sim, args.messages, 1, args.concurrency, 0, args.client),
            "100": await kefu_run(
                server, sim, args.batched_messages, 100, args.concurrency, 10**6, args.client
            ),
        }
    except Exception:
        print(Path(log).read_text()[:6000])  # the server's side of the failure
        raise
    finally:
        server.stop()


async def main(args: argparse.Namespace) -> None:
    # A simulator per server run (and per Jasmin run): one kept across runs handed each new
    # server the receipts still owed to the servers before it, and every rate fell from the
    # first run to the last (e.g. 760 → 503 msg/s over three runs of the same tree).
    tmp = tempfile.TemporaryDirectory()

    async def url_for(tag: str) -> str:
        if args.database_url:
            await reset_database(args.database_url)
            return args.database_url
        return f"sqlite:///{tmp.name}/{tag}.db"

    trees = [("before", args.before)] if args.before else []
    trees.append(("after", None))
    runs: dict[str, list[dict[str, tuple[float, float, float, float]]]] = {t: [] for t, _ in trees}
    try:
        print(f"{args.messages:,} one-recipient requests and {args.batched_messages:,} messages in "
              f"100-recipient requests, into one SMPP simulator over {args.links} link(s); "
              f"database {(args.database_url or 'sqlite').split('://')[0]}; {args.concurrency} "
              f"requests in flight; gateway {args.gateway}; counted at the simulator")  # fmt: skip
        print(f"load average before: {load()}")
        jasmin: list[float] = []
        for rep in range(args.repeat):
            for tag, src in trees:
                sim = Simulator("smpp")
                try:
                    result = await measure(url_for, sim, src, args, tmp.name, f"{tag}{rep}")
                finally:
                    sim.stop()
                runs[tag].append(result)
                print(f"  run {rep + 1} {tag:<6} " + "; ".join(
                    f"{shape}/request {r[0]:,.0f} msg/s delivered ({r[1]:,.0f}/s accepted), "
                    f"{r[2] * int(shape):.2f} CPU-ms/request (load generator {r[3]:.2f})"
                    for shape, r in result.items()))  # fmt: skip
            if args.jasmin:  # interleaved with kefu's runs: the same machine state for both
                sim = Simulator("smpp")
                try:
                    client0 = time.process_time()
                    run = await jasmin_run(sim, args.messages, args.concurrency, rep, args.client)
                    client = (time.process_time() - client0) / args.messages * 1000
                finally:
                    sim.stop()
                jasmin.append(run.rate)
                print(f"  run {rep + 1} Jasmin HTTP API, 1 recipient/request: {run.rate:,.0f} "
                      f"msg/s at the simulator, {run.client_cpu * 1000 / run.messages:.2f} CPU-ms/message "
                      f"(jasmind + RabbitMQ; load generator {client:.2f} CPU-ms/request)")  # fmt: skip
        print(f"load average after: {load()}")
        print(f"medians of {args.repeat}:")
        for shape in ("1", "100"):
            for tag, _ in trees:
                rates = [r[shape][0] for r in runs[tag]]
                cpu = [r[shape][2] * int(shape) for r in runs[tag]]
                print(f"  {shape:>3} recipient(s)/request, {tag:<6} {median(rates):>8,.0f} msg/s "
                      f"({', '.join(f'{x:,.0f}' for x in rates)}); "
                      f"{median(cpu):.2f} CPU-ms/request ({', '.join(f'{x:.2f}' for x in cpu)})")  # fmt: skip
            if args.before:
                ratio = median(r[shape][0] for r in runs["after"]) / median(
                    r[shape][0] for r in runs["before"]
                )
                print(f"      after/before: {ratio:.2f}x")
        if args.jasmin:
            kefu = [r["1"][0] for r in runs["after"]]
            each = ", ".join(f"{k / j:.2f}" for k, j in zip(kefu, jasmin, strict=True))
            print(f"    1 recipient(s)/request, Jasmin {median(jasmin):>8,.0f} msg/s "
                  f"({', '.join(f'{x:,.0f}' for x in jasmin)}); kefu/Jasmin "
                  f"{median(kefu) / median(jasmin):.2f}x (per run: {each})")  # fmt: skip
    finally:
        tmp.cleanup()


async def reset_database(url: str) -> None:
    """An empty PostgreSQL database for each server (the runs must not see each other's rows)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="one-recipient requests")
    parser.add_argument("--batched-messages", type=int, default=10000,
                        help="messages sent 100 recipients per request")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="load generator: raw (benchmarks/raw_http.py, a few tens of µs a "
                             "request) or httpx (~2.6 CPU-ms a JSON POST, which on 2 cores bounds "
                             "the rate)")  # fmt: skip
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="kefu's KEFU_LOG_LEVEL; INFO writes an access-log line per request",
    )
    parser.add_argument("--links", type=int, default=1, help="SMPP links (binds) to the simulator")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", default=None,
                        help="src/ of another tree (e.g. a git worktree of an older commit), run "
                             "alternately with this one in the same run")  # fmt: skip
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--gateway", choices=["in-process", "separate"], default="in-process",
                        help="separate: `kefu run sms` sends, `kefu serve` only queues "
                             "(KEFU_SMS_GATEWAY_IN_WEB=false; CPU is both processes')")  # fmt: skip
    parser.add_argument("--jasmin", action="store_true")
    asyncio.run(main(parser.parse_args()))
