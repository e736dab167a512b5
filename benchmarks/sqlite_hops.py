"""Trips to aiosqlite's worker thread per SMS send request, per adapter (issue #24).

Runs ``kefu serve`` with the gateway separate (``kefu run sms``, KEFU_SMS_GATEWAY_IN_WEB=false)
against the SMPP simulator, as benchmarks/sms_api_throughput.py does, once per SQLite adapter
(``KEFU_SQLITE_ADAPTER=aiosqlite``, SQLAlchemy's stock dialect, and ``hop``,
kefu.db.sqlite_adapter), each on an empty database. A ``sitecustomize`` put on the servers'
PYTHONPATH counts every answer aiosqlite's thread hands back to the event loop (its
``set_result``/``set_exception``: one per trip) and writes the count to a file; the counts
before and after a run of one-recipient and of 100-recipient requests, divided by the
requests (API process) and by the messages (gateway process), are the trips. Counting only —
the instrumentation is not in the product; for CPU see sms_api_throughput.py.

    .venv/bin/python benchmarks/sqlite_hops.py [--messages 1000] [--batched-messages 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from protocols_throughput import Simulator  # noqa: E402
from sms_api_throughput import KefuServer, kefu_run, load  # noqa: E402

HOOK = """
import os, threading, time
import aiosqlite.core as _core

_hops = [0]
_sr, _se = _core.set_result, _core.set_exception


def _set_result(fut, result):
    _hops[0] += 1
    _sr(fut, result)


def _set_exception(fut, exc):
    _hops[0] += 1
    _se(fut, exc)


_core.set_result, _core.set_exception = _set_result, _set_exception
_path = os.path.join(os.environ["KEFU_HOPS_DIR"], str(os.getpid()))


def _dump():
    while True:
        with open(_path + ".tmp", "w") as f:
            f.write(str(_hops[0]))
        os.replace(_path + ".tmp", _path)
        time.sleep(0.05)


threading.Thread(target=_dump, daemon=True).start()
"""


def hops(folder: str, pid: int) -> int:
    path = Path(folder) / str(pid)
    for _ in range(100):
        if path.exists():
            return int(path.read_text())
        time.sleep(0.05)
    raise RuntimeError(f"no hop count from process {pid}")


async def counted(server: KefuServer, sim: Simulator, folder: str, total: int, per: int,
                  first: int) -> tuple[float, float]:  # fmt: skip
    """(trips per request in the API process, trips per message in the gateway process)."""
    api, gateway = server.proc.pid, server.gateway.pid  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    a0, g0 = hops(folder, api), hops(folder, gateway)
    await kefu_run(server, sim, total, per, 20, first)
    await asyncio.sleep(0.3)  # the dump thread's next write
    return (hops(folder, api) - a0) / (total / per), (hops(folder, gateway) - g0) / total


async def main(args: argparse.Namespace) -> None:
    sim = Simulator("smpp")
    tmp = tempfile.TemporaryDirectory()
    hook = Path(tmp.name) / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    os.environ["KEFU_HOPS_DIR"] = tmp.name
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).parents[1] / "src"), str(hook)) if p
    )
    print(f"load average before: {load()}")
    try:
        for adapter in ("aiosqlite", "hop"):
            os.environ["KEFU_SQLITE_ADAPTER"] = adapter
            server = KefuServer(f"sqlite:///{tmp.name}/{adapter}.db", sim,
                                f"{tmp.name}/{adapter}.log", None, 1, True)  # fmt: skip
            try:
                await kefu_run(server, sim, 200, 1, 20, 9 * 10**7)  # warm: caches, statements
                one = await counted(server, sim, tmp.name, args.messages, 1, 0)
                hundred = await counted(server, sim, tmp.name, args.batched_messages, 100, 10**6)
            except Exception:
                print(Path(f"{tmp.name}/{adapter}.log").read_text()[:4000])
                raise
            finally:
                server.stop()
            print(f"  {adapter:<9} 1 recipient: {one[0]:.2f} trips/request (API), "
                  f"{one[1]:.2f} trips/message (gateway); 100 recipients: {hundred[0]:.2f} "
                  f"trips/request (API), {hundred[1]:.2f} trips/message (gateway)")  # fmt: skip
    finally:
        print(f"load average after: {load()}")
        sim.stop()
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="one-recipient requests")
    parser.add_argument("--batched-messages", type=int, default=5000)
    asyncio.run(main(parser.parse_args()))
