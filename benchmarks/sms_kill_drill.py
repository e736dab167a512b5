"""The outbox's guarantee under ``kill -9``, tried as an outsider would, with default settings.

Three processes on a temporary SQLite database: ``kefu sms simulator`` (SMPP), ``kefu serve``
(the SMS API; without a gateway of its own unless ``--serve-linked``) and ``kefu run sms`` (the
gateway). Unique messages go in through the API (``--messages`` in requests of 100, spread over
the kills) while the gateway is killed with SIGKILL every ``--every`` seconds, at a random moment
within ``--within`` seconds of its binding (so that it is at work), and restarted at once
(``--kills`` times; ``--drop-link`` also cuts the carrier link once); a kill waits (at most
``--busy-wait`` seconds) until the simulator has taken a submit within the last 200 ms, so that
it lands mid-batch, and says when it did not. Then everything is counted at the
simulator: lost (never received), sent twice (received more than once), and for every kill how
long after the restart the rows the dead gateway held (``sending``/``unknown`` at the kill)
took to settle (sent, delivered or failed: a row queued again is settled only once it has gone
out). Held rows are counted by state at each kill: claimed and not marked as submitted
(provably never written: queued again at once), marked, or ``unknown``.

    .venv/bin/python benchmarks/sms_kill_drill.py [--kills 11] [--every 7] [--messages 5000]
        [--per-number 1] [--drop-link] [--serve-linked] [--within 2] [--seed 1] [--runs 1]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from protocols_throughput import Simulator, free_port  # noqa: E402

KEFU = [sys.executable, "-m", "kefu.cli"]
OPEN = ("accepted", "sending", "unknown")


def held_rows(db: Path) -> dict[int, str]:
    """Rows a gateway holds, with their state: claimed and not marked as submitted (``sending
    unmarked``: provably never written, queued again at once), marked and not yet recorded
    (``sending marked``), or waiting for a report (``unknown``)."""
    with sqlite3.connect(db, timeout=30) as con:
        rows = con.execute(
            "select id, case when state = 'sending' and submitted_at is null then"
            " 'sending unmarked' when state = 'sending' then 'sending marked' else state end"
            " from sms_messages where state in ('sending', 'unknown')"
        )
        return dict(rows.fetchall())


def how_settled(db: Path, ids: set[int]) -> collections.Counter[str]:
    """How a kill's rows ended: by their own answer or report, by a report tied by the
    handset, sent again (possibly duplicated), or still open."""
    if not ids:
        return collections.Counter()
    marks = ",".join("?" * len(ids))
    sql = f"select state, meta from sms_messages where id in ({marks})"  # noqa: S608 - placeholders
    with sqlite3.connect(db, timeout=30) as con:
        out: collections.Counter[str] = collections.Counter()
        for state, meta in con.execute(sql, list(ids)):
            meta = json.loads(meta or "{}")
            if meta.get("possibly_duplicated"):
                out["sent again"] += 1
            elif meta.get("report_matched"):
                out["report by handset"] += 1
            elif state in ("sending", "unknown"):
                out[f"still {state}"] += 1
            else:
                out[state] += 1
        return out


def still_open(db: Path, ids: set[int]) -> int:
    """A held row is settled once sent, delivered or failed: a row queued again
    (``accepted``) is not settled until it has gone out."""
    if not ids:
        return 0
    with sqlite3.connect(db, timeout=30) as con:
        marks = ",".join("?" * len(ids))
        sql = f"select count(*) from sms_messages where id in ({marks}) and state in ('accepted', 'sending', 'unknown')"  # noqa: S608 - placeholders
        return con.execute(sql, list(ids)).fetchone()[0]


def open_count(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as con:
        marks = ",".join("?" * len(OPEN))
        sql = f"select count(*) from sms_messages where direction = 'out' and state in ({marks})"  # noqa: S608
        return con.execute(sql, OPEN).fetchone()[0]


class Drill:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.db = tmp / "drill.db"
        self.sim = Simulator("smpp")
        link = {"name": "carrier", "protocol": "smpp", "port": self.sim.port,
                "username": "kefu", "password": "secret"}  # fmt: skip
        self.env = {**os.environ, "KEFU_DATABASE_URL": f"sqlite:///{self.db}",
                    "KEFU_SMS_LINKS": json.dumps([link]), "KEFU_LOG_LEVEL": "WARNING",
                    "KEFU_SECRET_KEY": "drill", "KEFU_ROUTING_TICK": "0"}  # fmt: skip
        for name in [n for n in self.env if n.startswith("KEFU_SMS_") and n != "KEFU_SMS_LINKS"]:
            del self.env[name]  # default settings, whatever the caller's shell holds
        subprocess.run([*KEFU, "db", "upgrade"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        made = subprocess.run([*KEFU, "apikey", "create", "drill", "--role", "admin"],
                              env=self.env, check=True, capture_output=True, text=True)  # fmt: skip
        self.key = next(w for w in made.stdout.split() if len(w) > 30)
        serve_env = dict(self.env)
        if not args.serve_linked:
            # The setting keeps the gateway out of the web process; the link to a closed port
            # does the same for a kefu that predates the setting (the "before" figures).
            serve_env["KEFU_SMS_GATEWAY_IN_WEB"] = "false"
            serve_env["KEFU_SMS_LINKS"] = json.dumps([link | {"port": free_port()}])
        self.port = free_port()
        self.serve = subprocess.Popen(
            [*KEFU, "serve", "--port", str(self.port), "--no-migrate"], env=serve_env,
            stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "w"),  # noqa: SIM115
        )  # fmt: skip
        self.gateways = 0
        self.bound_before = 0
        self.bind_seen: list[float] = []  # when each gateway was seen bound (the drill's clock)
        self.random = random.Random(args.seed)
        self.gateway = self.start_gateway()

    def start_gateway(self) -> subprocess.Popen[bytes]:
        self.bound_before = self.binds()
        self.gateways += 1
        log = open(self.tmp / f"gateway{self.gateways}.log", "w")  # noqa: SIM115 - the process's
        return subprocess.Popen([*KEFU, "run", "sms"], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip

    def requests(self) -> list[tuple[list[str], str]]:
        """Requests of 100 numbers, one text each; every (number, text) pair is unique."""
        per = self.args.per_number
        numbers = [f"139{n:08d}" for n in range(max(self.args.messages // per, 1))]
        return [(numbers[start : start + 100], f"第{k + 1}条 演练 {start:05d}")
                for k in range(per) for start in range(0, len(numbers), 100)]  # fmt: skip

    def post_all(self, requests: list[tuple[list[str], str]], failures: list[str]) -> None:
        """Spread over the kills, so that every kill lands on a gateway at work."""
        pace = self.args.kills * self.args.every / max(len(requests), 1)
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers,
                          timeout=120) as http:  # fmt: skip
            for n, (numbers, text) in enumerate(requests):
                body = {"to": numbers, "text": text, "kind": "notification",
                        "idempotency_key": f"drill-{n}"}  # fmt: skip
                r = http.post("/api/v1/sms/messages", json=body)
                if r.status_code != 202:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                else:
                    failures += [f"refused {x}" for x in r.json()["refused"]]
                time.sleep(pace)

    def binds(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.sim.control}/stats").json()["binds"]

    def submits(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.sim.control}/stats").json()["submits"]

    def kill_at_work(self, binds_before: int) -> bool:
        """SIGKILL once the gateway has bound (a loaded machine can take seconds to start
        one), at a random moment of its first ``--within`` seconds of work, and then only
        while it is sending: the simulator has taken a submit within the last 200 ms (a kill
        of an idle gateway tests nothing; it waits at most ``--busy-wait`` seconds for one).
        Then reap it: the next gateway must see its pid gone. Returns whether it was busy."""
        for _ in range(600):
            if self.binds() > binds_before:
                self.bind_seen.append(time.monotonic())
                break
            time.sleep(0.1)
        time.sleep(self.random.uniform(0, self.args.within))
        give_up, seen, busy = time.monotonic() + self.args.busy_wait, self.submits(), False
        while time.monotonic() < give_up:
            time.sleep(0.1)
            now = self.submits()
            if now > seen:  # a submit came within the last ~100 ms (plus the poll's own time)
                busy = True
                break
            seen = now
        self.gateway.send_signal(signal.SIGKILL)
        self.gateway.wait()
        return busy

    def watch(self, interrupted: list[tuple[float, set[int]]], settle: dict[int, float]) -> None:
        """How long after each restart the rows held at that kill took to settle (by kill)."""
        while self.watching:
            for kill, (restarted, rows) in enumerate(list(interrupted)):
                if kill not in settle and still_open(self.db, rows) == 0:
                    settle[kill] = time.monotonic() - restarted
            time.sleep(0.25)

    def wait_ready(self) -> None:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError((self.tmp / "serve.log").read_text()[-3000:])

    def run(self) -> dict[str, object]:
        self.wait_ready()
        requests = self.requests()
        items = [(number, text) for numbers, text in requests for number in numbers]
        failures: list[str] = []
        poster = threading.Thread(target=self.post_all, args=(requests, failures))
        started = time.monotonic()
        poster.start()
        interrupted: list[tuple[float, set[int]]] = []
        at_kill: list[dict[int, str]] = []
        busy: list[bool] = []
        settle: dict[int, float] = {}
        self.watching = True
        watching = threading.Thread(target=self.watch, args=(interrupted, settle), daemon=True)
        watching.start()
        for kill in range(self.args.kills):
            time.sleep(self.args.every)
            busy.append(self.kill_at_work(self.bound_before))
            held = held_rows(self.db)
            if self.args.drop_link and kill == self.args.kills // 2:
                httpx.post(f"http://127.0.0.1:{self.sim.control}/faults", json={"drop": True})
            self.gateway = self.start_gateway()
            interrupted.append((time.monotonic(), set(held)))
            at_kill.append(held)
        poster.join()
        deadline = time.monotonic() + self.args.timeout
        last_restart, quiet = interrupted[-1][0] if interrupted else started, float("inf")
        while time.monotonic() < deadline:
            if open_count(self.db) == 0 and quiet == float("inf"):
                quiet = time.monotonic() - last_restart
            if len(settle) == len(interrupted) and quiet < float("inf"):
                break
            time.sleep(0.5)
        self.watching = False
        watching.join()
        times = [settle.get(kill, float("inf")) for kill in range(len(interrupted))]
        time.sleep(2)  # the last reports
        result = self.count(items, failures, times, time.monotonic() - started)
        held = sum(len(rows) for _, rows in interrupted)
        kills = [
            {"settled_s": times[k],
             "bound_s": (self.bind_seen[k + 1] - interrupted[k][0]
                         if k + 1 < len(self.bind_seen) else float("nan")),
             "held": collections.Counter(at_kill[k].values()), "busy": busy[k],
             "ended": how_settled(self.db, set(at_kill[k]))}
            for k in range(len(interrupted))
        ]  # fmt: skip
        return result | {"interrupted": held, "after_last": quiet, "kills": kills,
                         "busy_kills": sum(busy),
                         "settle_p50": sorted(times)[len(times) // 2] if times else 0.0}  # fmt: skip

    def count(self, items: list[tuple[str, str]], failures: list[str], settle: list[float],
              elapsed: float) -> dict[str, object]:  # fmt: skip
        got: collections.Counter[tuple[str, str]] = collections.Counter()
        control = f"http://127.0.0.1:{self.sim.control}"
        with httpx.Client(base_url=control, timeout=60) as http:
            for number in sorted({n for n, _ in items}):
                for m in http.get("/mt", params={"to": number}).json():
                    got[(number, m["text"])] += 1
        wanted = {(n, f"【kefu银行】{t}") for n, t in items}
        lost = sum(1 for w in wanted if got[w] == 0)
        twice = sum(c - 1 for w, c in got.items() if w in wanted and c > 1)
        unmatched = sum(
            p.read_text().count("sms_report_unmatched") for p in self.tmp.glob("gateway*.log")
        )
        with sqlite3.connect(self.db, timeout=30) as con:
            states = dict(con.execute("select state, count(*) from sms_messages group by state"))
        return {"lost": lost, "twice": twice, "refused": len(failures), "unmatched": unmatched,
                "settle_max": max(settle, default=0.0), "states": states, "elapsed": elapsed}  # fmt: skip

    def stop(self) -> None:
        for proc in (self.gateway, self.serve):
            proc.terminate()
            proc.wait(60)
        try:
            self.sim.stop()
        except subprocess.TimeoutExpired:  # a loaded machine: the run's figures must not be lost
            self.sim.proc.kill()
            self.sim.proc.wait()


def main(args: argparse.Namespace) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.messages:,} messages ({args.per_number} per number) through the SMS API; "
          f"{args.kills} kills of `kefu run sms`, one every {args.every:g} s"
          f"{', one link drop' if args.drop_link else ''}"
          f"{'; kefu serve also linked' if args.serve_linked else ''}; default settings")  # fmt: skip
    results = []
    for run in range(args.runs):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        with tempfile.TemporaryDirectory() as name:
            drill = Drill(args, Path(name))
            try:
                result = drill.run()
            finally:
                drill.stop()
            if args.keep_logs:
                for log in Path(name).glob("*.log"):
                    (Path(args.keep_logs) / f"run{run}-{log.name}").write_text(log.read_text())
        results.append(result)
        print(f"  run {run + 1}: lost {result['lost']}, sent twice {result['twice']}, "
              f"rows held by a killed gateway {result['interrupted']}, "
              f"refused by the API {result['refused']}, unmatched-report warnings "
              f"{result['unmatched']}, interrupted rows settled within "
              f"{result['settle_max']:.1f} s of the restart (slowest kill), nothing left "
              f"to send or settle {result['after_last']:.1f} s after the last restart, "
              f"{result['elapsed']:.0f} s in all; states {result['states']}")  # fmt: skip
        print(f"    settle p50 {result['settle_p50']:.1f} s, max {result['settle_max']:.1f} s; "
              f"{result['busy_kills']} of {args.kills} kills while the simulator was taking "
              f"submits; load {load} before the run, "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after")  # fmt: skip
        held_by_state: collections.Counter[str] = collections.Counter()
        for k, kill in enumerate(result["kills"]):  # type: ignore[arg-type]
            held_by_state.update(kill["held"])
            print(f"    kill {k + 1}{'' if kill['busy'] else ' (idle)'}: settled "
                  f"{kill['settled_s']:.1f} s after the restart (the new gateway bound after "
                  f"{kill['bound_s']:.1f} s); held {dict(kill['held'])}; ended "
                  f"{dict(kill['ended'])}")  # fmt: skip
        print(f"    rows held at the kills, by state: {dict(held_by_state)}")
    if len(results) > 1:
        for key in ("lost", "twice", "settle_p50", "settle_max"):
            values = sorted(float(r[key]) for r in results)  # type: ignore[arg-type]
            print(f"  median {key}: {values[len(values) // 2]:g}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=11)
    parser.add_argument("--every", type=float, default=7.0, help="seconds between kills")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--per-number", type=int, default=1)
    parser.add_argument("--drop-link", action="store_true")
    parser.add_argument("--within", type=float, default=2.0,
                        help="a kill lands within this many seconds of the gateway binding")  # fmt: skip
    parser.add_argument("--busy-wait", type=float, default=10.0,
                        help="seconds a kill waits for the gateway to be sending")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-linked", action="store_true")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for everything to settle after the last kill")  # fmt: skip
    parser.add_argument("--keep-logs", default="", help="a directory to copy the logs into")
    main(parser.parse_args())
