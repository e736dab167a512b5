"""The message pipeline's own cost: SMS MO → reply latency before and after it, in one run.

    .venv/bin/python benchmarks/sms_pipeline_overhead.py --before 2f97927 --queries 300 --runs 3

"Before" is a checkout of the commit before the pipeline (the gateway called the assistant
directly), made with `git worktree` in a temporary folder; "after" is this checkout. Each run
measures both, alternately, in fresh processes, with the same seeded synthetic bank (SQLite),
an SMPP carrier simulator on loopback and the same bound customers texting "YE" (balance) one
after another; latency is counted where the reply arrives (at the simulator). Prints p50/p99
per run, the medians of the runs, the after/before ratio and the load average before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 29)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(database_url: str, customers: int, queries: int) -> dict[str, float]:
    """One side's latencies (imports whichever kefu is on sys.path)."""
    from kefu.assistant.engine import Assistant
    from kefu.bank.synthetic.adapter import SyntheticBank
    from kefu.channels.sms.config import SmsLink
    from kefu.channels.sms.gateway import SmsGateway
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.protocols.factory import make_simulator
    from kefu.protocols.simulator import SimulatorConfig

    engine = make_engine(database_url)
    bank = SyntheticBank(engine)
    phones = [(await bank.get_customer(f"C{1 + n * (customers // queries):010d}")).mobile
              for n in range(queries)]  # fmt: skip
    sim = make_simulator("smpp", SimulatorConfig("kefu", "secret", report_delay=0.5, mt_keep=10))
    await sim.start()
    # A link name of its own: an SMPP MO without a message id is deduplicated on link, numbers
    # and text within a minute, and both sides send the same texts from the same numbers.
    link = SmsLink(name=f"smpp-{os.getpid()}", protocol="smpp", port=sim.port, username="kefu",
                   password="secret")  # fmt: skip
    if "pipeline" in inspect.signature(SmsGateway).parameters:
        from kefu.messaging.pipeline import Pipeline

        answering = {"pipeline": Pipeline(Assistant(bank))}
    else:
        answering = {"assistant": Assistant(bank)}
    gateway = SmsGateway(links=[link], sessionmaker=make_sessionmaker(engine), **answering)
    await gateway.start()
    await asyncio.sleep(1)
    latencies: list[float] = []
    for n, phone in enumerate(phones[:10] + phones):
        before = len(sim.mt_for(phone))
        started = time.perf_counter()
        await sim.inject_mo(phone, "95511", "H" if n < 10 else "YE")
        deadline = started + 30
        while len(sim.mt_for(phone)) <= before:
            if time.perf_counter() > deadline:
                raise TimeoutError("no reply")
            await asyncio.sleep(0.0005)
        if n >= 10:  # the first ten warm up
            latencies.append((time.perf_counter() - started) * 1000)
    await gateway.stop()
    await sim.stop()
    await engine.dispose()
    return {"p50": statistics.median(latencies), "p99": pct(latencies, 0.99)}


def run_side(src: Path, url: str, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "KEFU_LOG_LEVEL": "WARNING"}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", url, "--customers", str(args.customers),
         "--queries", str(args.queries)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{src}: the measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="2f97927", help="commit before the pipeline")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.customers, args.queries))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(before),
                        args.before], check=True)  # fmt: skip
        try:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            # The schema and the bank, once, by the older side (the newer adds tables only).
            seed = (
                "import asyncio, sys; from datetime import date;"
                "from kefu.db.migrate import upgrade; from kefu.db.engine import make_engine;"
                "from kefu.bank.synthetic.seeder import seed;"
                "from kefu.bank.synthetic.adapter import SyntheticBank;"
                "from kefu.identity.binding import bind;"
                "from kefu.db.engine import make_sessionmaker, session_scope\n"
                "async def go(url, n, q):\n"
                "    upgrade(url); e = make_engine(url); b = SyntheticBank(e)\n"
                "    await seed(e, customers=n, as_of=date(2026, 11, 29), reset=True)\n"
                "    async with session_scope(make_sessionmaker(e)) as db:\n"
                "        for i in range(q):\n"
                "            p = await b.get_customer(f'C{1 + i * (n // q):010d}')\n"
                "            await bind(db, kind='phone', value=p.mobile, profile=p, actor='bench')\n"
                "    await e.dispose()\n"
                "asyncio.run(go(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))"
            )
            subprocess.run([sys.executable, "-c", seed, url, str(args.customers),
                            str(args.queries)], env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                           check=True)  # fmt: skip
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            sides: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for run in range(1, args.runs + 1):
                for name, src in (("before", before / "src"), ("after", REPO / "src")):
                    result = run_side(src, url, args)
                    sides[name].append(result)
                    print(
                        f"run {run} {name:6} p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms"
                    )
            med = {n: {k: statistics.median(r[k] for r in rs) for k in ("p50", "p99")}
                   for n, rs in sides.items()}  # fmt: skip
            print(f"median of {args.runs}: before p50 {med['before']['p50']:.1f} / p99 "
                  f"{med['before']['p99']:.1f} ms; after p50 {med['after']['p50']:.1f} / p99 "
                  f"{med['after']['p99']:.1f} ms")  # fmt: skip
            print(f"after/before: p50 x{med['after']['p50'] / med['before']['p50']:.2f}, "
                  f"p99 x{med['after']['p99'] / med['before']['p99']:.2f}")  # fmt: skip
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)],
                           check=False)  # fmt: skip


if __name__ == "__main__":
    main()
