"""Where the SMS send API's CPU goes: py-spy samples ``kefu serve`` while it takes
one-recipient requests (the same set-up as benchmarks/sms_api_throughput.py: an SMPP simulator
in its own process, an admin API key), and the samples are summed into the parts of a request.

py-spy counts samples of threads that are running (not waiting), so the shares are of CPU time;
they are turned into CPU-ms per request with the server's CPU time read from /proc.

    .venv/bin/pip install py-spy
    .venv/bin/python benchmarks/sms_api_profile.py [--messages 3000] [--concurrency 50]
        [--database-url postgresql://…] [--stacks stacks.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from protocols_throughput import Simulator  # noqa: E402
from sms_api_throughput import KefuServer, kefu_run  # noqa: E402

PY_SPY = Path(sys.executable).parent / "py-spy"

# The request's parts in kefu: a sample goes to the first whose pattern is anywhere in its stack
# (the queries verify_api_key runs are the API key lookup's cost, not "database").
KEFU_PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("auth: API key lookup", ("verify_api_key", "current_principal")),
    ("idempotency", ("kefu/web/idempotency",)),
    ("policy: rules.decide (caps query)", ("kefu/outbound/policy", "kefu/outbound/consent")),
    ("outbox insert (enqueue_many)", ("enqueue_many",)),
    # The rest of the group commit's transaction (its other SQL, the commit, the drain task).
    ("group commit: batch transaction", ("kefu/outbound/group_commit",)),
    ("SMS gateway: outbox → link, reports", ("kefu/channels/sms", "kefu/protocols")),
    ("logging / audit", ("logging/", "structlog", "kefu/audit")),
]
# The rest by its innermost frame that matches (outer frames such as uvicorn's Server.run are in
# every stack).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("SQLite's worker thread (SQL, commit)", ("aiosqlite/",)),
    ("request validation (pydantic)", ("pydantic", "check_sms_request")),
    ("response JSON", ("serialize_response", "jsonable_encoder", "json/")),
    ("database: session, ORM, commit", ("sqlalchemy", "asyncpg", "session_scope", "get_db")),
    (
        "HTTP, routing, middleware",
        (
            "uvicorn/protocols",
            "starlette",
            "fastapi",
            "httptools",
            "kefu/web",
            "kefu/outbound",
            "h11",
        ),
    ),  # fmt: skip
    ("event loop", ("asyncio/",)),
]
OTHER = "other"
CATEGORIES = [name for name, _ in KEFU_PARTS + LAYERS] + [OTHER]


def category(frames: list[str]) -> str:
    for name, patterns in KEFU_PARTS:
        if any(p in f for f in frames for p in patterns):
            return name
    for frame in reversed(frames):
        for name, patterns in LAYERS:
            if any(p in frame for p in patterns):
                return name
    return OTHER


def categorise(stacks: Path) -> tuple[collections.Counter[str], int]:
    """Sums py-spy's collapsed stacks ("frame;frame;… count", outermost first) by category."""
    totals: collections.Counter[str] = collections.Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        totals[category(stack.split(";"))] += int(count)
    return totals, sum(totals.values())


async def main(args: argparse.Namespace) -> None:
    sim = Simulator("smpp")
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    server = KefuServer(url, sim, f"{tmp.name}/serve.log")
    raw = Path(tmp.name) / "stacks.txt"
    try:
        # Warm up (imports, first connections, templates) outside the profile.
        await kefu_run(server, sim, 200, 1, args.concurrency, 9 * 10**7)
        spy = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(server.proc.pid), "--format", "raw",
             "--output", str(raw), "--rate", "200", "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(1.0)  # py-spy attaches
        rate, accepted, cpu = await kefu_run(server, sim, args.messages, 1, args.concurrency, 0)
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        spy.wait(60)
        if args.stacks:  # speedscope.app and flamegraph.pl both open this format
            Path(args.stacks).write_text(raw.read_text())
        totals, busy = categorise(raw)
        cpu_ms = cpu  # kefu_run gives CPU seconds per 1000 messages = ms per message
        print(f"{args.messages:,} one-recipient requests, {args.concurrency} in flight, database "
              f"{url.split('://')[0]}: {rate:,.0f} msg/s at the simulator, {accepted:,.0f}/s "
              f"accepted, {cpu_ms:.2f} CPU-ms per request; {busy:,} samples")  # fmt: skip
        print(f"  {'part of the work':<40} {'share':>6} {'CPU-ms/request':>15}")
        for name in CATEGORIES:
            share = totals[name] / busy if busy else 0.0
            print(f"  {name:<40} {share:>6.1%} {share * cpu_ms:>15.2f}")
    finally:
        server.stop()
        sim.stop()
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--stacks", default=None, help="keep the collapsed stacks here")
    asyncio.run(main(parser.parse_args()))
