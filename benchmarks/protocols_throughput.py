"""Submits per second over loopback: our client → our simulator, per protocol.

The simulator runs in its own process (``kefu sms simulator``), the client in this one, so
each side has a core on a 2-core machine. For every protocol we measure one connection with
the spec's default window, four connections, and — as the in-run baseline — one connection
in stop-and-wait (window 1). For SMPP we also run PyPI ``smpplib`` (a synchronous ESME,
given the same window of 10 by hand) against the same simulator and print kefu/smpplib.

With ``--jasmin``, the same SMPP traffic also goes through Jasmin (PyPI ``jasmin``): its
HTTP API takes the messages and its SMPP client connector submits them to the same
simulator; the rate is counted at the simulator. Jasmin needs RabbitMQ and Redis running
and ``jasmind.py`` started (jCli on 127.0.0.1:8990, HTTP API on 127.0.0.1:1401), e.g.::

    apt-get install rabbitmq-server redis-server && rabbitmq-server -detached
    redis-server --daemonize yes && python3 -m venv /tmp/jasvenv
    /tmp/jasvenv/bin/pip install jasmin && ROOT_PATH=/tmp/jasroot /tmp/jasvenv/bin/jasmind.py \
        --username jcliadmin --password jclipwd
    # ROOT_PATH/etc/jasmin/resource/amqp0-9-1.xml: copy of txamqp's amqp0-9-1 spec;
    # ROOT_PATH/etc/jasmin/jasmin.cfg: bind = 127.0.0.1 under [smpp-server],
    # [smpp-server-pb], [http-api] and [jcli] to keep everything on loopback

    .venv/bin/python benchmarks/protocols_throughput.py [--messages 20000] [--only smpp]
        [--repeat 3] [--one-conn] [--window 10] [--jasmin]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from kefu.protocols import cmpp, smgp, smpp
from kefu.protocols.client import CarrierClient
from kefu.protocols.factory import PROTOCOLS
from kefu.protocols.message import OutMessage
from kefu.protocols.sgip import SgipClient

CREDS = {"smpp": ("kefu", "secret"), "cmpp2": ("900001", "888888"),
         "cmpp3": ("900001", "888888"), "sgip": ("kefusp", "secret"), "smgp": ("10001", "secret")}  # fmt: skip
TEXT = "Your verification code is 482913. It expires in 5 minutes."
TICK = os.sysconf("SC_CLK_TCK")
STOP_WAIT = 120.0  # seconds a simulator gets to exit after SIGTERM before it is killed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of(pid: int) -> float:
    """User+system CPU seconds of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Simulator:
    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.port = free_port()
        self.control = free_port()
        user, secret = CREDS[protocol]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kefu.cli", "sms", "simulator", "--protocol", protocol,
             "--port", str(self.port), "--control-port", str(self.control), "--username", user,
             "--password", secret],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        banner = self.proc.stdout.readline()  # type: ignore[union-attr]
        if "simulator on" not in banner:
            raise RuntimeError(f"simulator did not start: {banner!r}")

    def submits(self) -> int:
        """Submits the simulator has accepted so far: throughput is counted where it arrives."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control}/stats", timeout=10) as r:
            return int(json.load(r)["submits"])

    def stop(self) -> None:
        """Terminate, wait, kill: never raises, the run's figures are already measured. On a
        loaded machine (load 10-20 on 2 cores) the simulator may take far more than 10 s to
        finish its connections and exit."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            print(f"simulator {self.protocol}: no exit {STOP_WAIT:.0f} s after SIGTERM; killed",
                  file=sys.stderr)  # fmt: skip
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def make_client(protocol: str, port: int, window: int | None) -> CarrierClient:
    user, secret = CREDS[protocol]
    kw = {"window": window, "response_timeout": 30.0}
    if protocol == "smpp":
        return smpp.client("127.0.0.1", port, user, secret, **kw)
    if protocol in ("cmpp2", "cmpp3"):
        return cmpp.client("127.0.0.1", port, user, secret, version=int(protocol[-1]), **kw)
    if protocol == "sgip":
        return SgipClient("127.0.0.1", port, user, secret, **kw)
    return smgp.client("127.0.0.1", port, user, secret, **kw)


@dataclass
class Run:
    label: str
    messages: int
    seconds: float
    client_cpu: float
    sim_cpu: float
    # the mechanism, for kefu's runs: mean requests in flight (sampled every millisecond),
    # send()s and reads per submit on the client's socket
    in_flight: float | None = None
    writes: float | None = None
    reads: float | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def row(self) -> str:
        per_k_client = self.client_cpu / self.messages * 1000
        per_k_sim = self.sim_cpu / self.messages * 1000
        return (
            f"  {self.label:<34} {self.rate:>9,.0f} submits/s   CPU s/1000: client "
            f"{per_k_client:.3f}  simulator {per_k_sim:.3f}"
        )

    def mechanism(self) -> str:
        if self.in_flight is None:
            return ""
        counts = ""
        if self.writes is not None and self.reads is not None:
            counts = f", {self.writes:.2f} send()s and {self.reads:.2f} reads per submit"
        return f"    mechanism: {self.in_flight:.1f} in flight on average{counts}"


class Sampler:
    """Requests in flight on the clients, sampled every millisecond on their own loop."""

    def __init__(self, clients: list[CarrierClient]) -> None:
        self.clients = clients
        self.samples = 0
        self.total = 0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(0.001, self._sample)

    def _sample(self) -> None:
        # ``_pending`` also exists in clients before ``in_flight`` did (runs of older trees)
        self.total += sum(len(c._pending) for c in self.clients)
        self.samples += 1
        self.start()

    def stop(self) -> float:
        if self._handle is not None:
            self._handle.cancel()
        return self.total / max(self.samples, 1) / len(self.clients)


async def kefu_run(sim: Simulator, connections: int, window: int | None, total: int) -> Run:
    clients = [make_client(sim.protocol, sim.port, window) for _ in range(connections)]
    for c in clients:
        await c.start()
    per = total // connections
    # warm-up (1,000 per link) so connection set-up and first-use costs are not measured
    await asyncio.gather(*(c.submit(OutMessage("13800138000", "warm", want_report=False))
                           for c in clients for _ in range(1000)))  # fmt: skip
    base = await asyncio.to_thread(sim.submits)
    io0 = [(c.stats.get("writes"), c.stats.get("reads")) for c in clients]
    sampler = Sampler(clients)
    sampler.start()
    cpu0, sim0, t0 = time.process_time(), cpu_of(sim.proc.pid), time.perf_counter()

    async def drive(c: CarrierClient) -> int:
        # 2 x window callers, each submitting and awaiting in turn (like the outbox's senders),
        # so the client's window, not this driver, is the limit; no task per message, which
        # would measure the driver's own scheduling rather than the client's
        failures = 0
        todo = iter(range(per))

        async def caller() -> None:
            nonlocal failures
            for i in todo:
                out = await c.submit(OutMessage(f"1380013{i % 10000:04d}", TEXT, want_report=False))
                failures += not out.ok

        await asyncio.gather(*(caller() for _ in range(c.window * 2)))
        return failures

    failures = sum(await asyncio.gather(*(drive(c) for c in clients)))
    elapsed = time.perf_counter() - t0
    cpu1, sim1 = time.process_time(), cpu_of(sim.proc.pid)
    in_flight = sampler.stop()
    arrived = await asyncio.to_thread(sim.submits) - base
    run = Run("", arrived, elapsed, cpu1 - cpu0, sim1 - sim0, in_flight)
    if all(w is not None for w, _ in io0):  # counted by the client (not in older trees)
        io1 = [(c.stats["writes"], c.stats["reads"]) for c in clients]
        run.writes = sum(w1 - w0 for (w0, _), (w1, _) in zip(io0, io1, strict=True)) / arrived
        run.reads = sum(r1 - r0 for (_, r0), (_, r1) in zip(io0, io1, strict=True)) / arrived
    for c in clients:
        await c.close()
    if failures or arrived != per * connections:
        raise RuntimeError(f"{failures} submits failed, {arrived} of {per * connections} arrived")
    return run


def smpplib_run(sim: Simulator, total: int, window: int = 10) -> Run:
    import smpplib.client

    client = smpplib.client.Client("127.0.0.1", sim.port, timeout=30)
    client.connect()
    client.bind_transceiver(system_id="kefu", password="secret")
    for _ in range(1000):  # the same warm-up as ours
        client.send_message(source_addr="", destination_addr="13800138000", short_message=b"warm")
        client.read_pdu()
    base = sim.submits()
    cpu0, sim0, t0 = time.process_time(), cpu_of(sim.proc.pid), time.perf_counter()
    outstanding = 0
    for i in range(total):
        client.send_message(source_addr="", destination_addr=f"1380013{i % 10000:04d}",
                            short_message=TEXT.encode())  # fmt: skip
        outstanding += 1
        if outstanding >= window:
            client.read_pdu()
            outstanding -= 1
    while outstanding:
        client.read_pdu()
        outstanding -= 1
    elapsed, cpu1, sim1 = time.perf_counter() - t0, time.process_time(), cpu_of(sim.proc.pid)
    arrived = sim.submits() - base
    if arrived != total:
        raise RuntimeError(f"smpplib: {arrived} of {total} arrived")
    run = Run("smpplib (baseline), 1 conn, window 10", arrived, elapsed, cpu1 - cpu0, sim1 - sim0)
    client.unbind()
    client.disconnect()
    return run


def jcli(commands: list[str]) -> str:
    """Drive Jasmin's telnet console; returns everything it printed."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import telnetlib

    t = telnetlib.Telnet("127.0.0.1", 8990, timeout=20)
    t.read_until(b"Username: ", 10)
    t.write(b"jcliadmin\r\n")
    t.read_until(b"Password: ", 10)
    t.write(b"jclipwd\r\n")
    t.read_until(b"jcli : ", 10)
    out = []
    for command in commands:
        t.write(command.encode() + b"\r\n")
        out.append(t.expect([b"jcli : ", b"> "], 30)[2].decode(errors="replace"))
    t.write(b"quit\r\n")
    t.close()
    return "".join(out)


def cpu_or_none(pid: int) -> float | None:
    """CPU seconds of a process that may have exited (then None)."""
    try:
        return cpu_of(pid)
    except OSError:
        return None


def pids_of(*needles: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read().decode(errors="replace")
            except OSError:
                continue
            if any(n in cmd for n in needles):
                pids.append(int(entry))
    return pids


async def jasmin_run(sim: Simulator, total: int, concurrency: int = 50, run: int = 0,
                     client: str = "httpx") -> Run:  # fmt: skip
    """Jasmin's HTTP API → its SMPP client connector into ``sim``. Each ``run`` of one jasmind
    gets a connector of its own (a removed connector's id is not reused) and the default route
    is pointed at it; the user and its group are created by the first run only (adding them
    again leaves jcli in its add prompt)."""
    import httpx

    cid = f"kefu{sim.port}r{run}"
    account = ["group -a", "gid bench", "ok", "user -a", "username bench", "password benchpw",
               "gid bench", "uid bench", "ok"] if run == 0 else []  # fmt: skip
    jcli(["smppccm -a", f"cid {cid}", "host 127.0.0.1", f"port {sim.port}", "username kefu",
          "password secret", "submit_throughput 0", "ok", f"smppccm -1 {cid}", *account,
          "mtrouter -r 0", "mtrouter -a", "type defaultroute", f"connector smppc({cid})",
          "rate 0.00", "ok"])  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as http:
        stats_url = f"http://127.0.0.1:{sim.control}/stats"
        for _ in range(300):
            if (await http.get(stats_url)).json()["sessions"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("Jasmin's connector never bound to the simulator")
        # jasmind itself and RabbitMQ's Erlang VM (skipping short-lived lookalikes, our own
        # process included, whose cmdline merely mentions them)
        jasmin_pids = [p for p in pids_of("jasmind.py", "beam.smp") if p != os.getpid()]
        base = (await http.get(stats_url)).json()["submits"]
        cpu0 = {p: cpu_or_none(p) for p in jasmin_pids}
        sim0, t0 = cpu_of(sim.proc.pid), time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        def query(i: int) -> dict[str, str]:
            return {"username": "bench", "password": "benchpw", "to": f"1380013{i % 10000:04d}",
                    "content": TEXT}  # fmt: skip

        async def one(i: int) -> None:
            async with sem:
                r = await http.get("http://127.0.0.1:1401/send", params=query(i))
                if not r.text.startswith("Success"):
                    raise RuntimeError(f"Jasmin refused a message: {r.text}")

        if client == "raw":  # the lean generator of benchmarks/raw_http.py, as for kefu
            import raw_http

            await raw_http.run("127.0.0.1", 1401,
                               [raw_http.get(f"/send?{urlencode(query(i))}", "127.0.0.1:1401")
                                for i in range(total)], concurrency,
                               lambda status, body: status == 200
                               and body.startswith(b"Success"))  # fmt: skip
        else:
            await asyncio.gather(*(one(i) for i in range(total)))
        while (await http.get(stats_url)).json()["submits"] - base < total:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
    jcli([f"smppccm -0 {cid}", f"smppccm -r {cid}"])
    cpu1 = {p: cpu_or_none(p) for p in jasmin_pids}
    used = sum(
        cpu1[p] - cpu0[p] for p in jasmin_pids if cpu0[p] is not None and cpu1[p] is not None
    )
    return Run("Jasmin (HTTP API → its SMPP client)", total, elapsed, used,
               cpu_of(sim.proc.pid) - sim0)  # fmt: skip


async def bench(protocol: str, total: int, repeat: int, full: bool, jasmin: int = 0,
                window: int | None = None) -> dict[str, list[Run]]:  # fmt: skip
    """Every configuration ``repeat`` times on one simulator, interleaved (kefu, smpplib,
    kefu, smpplib ...) so a change in the machine's load hits both sides of a ratio alike."""
    sim = Simulator(protocol)
    runs: dict[str, list[Run]] = {}

    def add(key: str, label: str, run: Run) -> None:
        run.label = label
        runs.setdefault(key, []).append(run)

    try:
        default_window = make_client(protocol, 0, None).window
        for _ in range(repeat):
            add("one", f"kefu, 1 conn, window {window or default_window}",
                await kefu_run(sim, 1, window, total))  # fmt: skip
            if protocol == "smpp":
                add("smpplib", "smpplib (baseline), 1 conn, window 10",
                    await asyncio.to_thread(smpplib_run, sim, total))  # fmt: skip
            if full:
                add("four", f"kefu, 4 conns, window {default_window} each",
                    await kefu_run(sim, 4, None, total))  # fmt: skip
                add("stop_wait", "kefu, 1 conn, window 1 (baseline)",
                    await kefu_run(sim, 1, 1, max(total // 5, 1000)))  # fmt: skip
        if protocol == "smpp" and jasmin:
            add("jasmin", "Jasmin (HTTP API → its SMPP client)", await jasmin_run(sim, jasmin))
        return runs
    finally:
        sim.stop()


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def ratio(runs: dict[str, list[Run]], a: str, b: str) -> str:
    """Median of the per-repeat ratios (each from the same repeat), with the range."""
    each = sorted(x.rate / y.rate for x, y in zip(runs[a], runs[b], strict=False))
    return f"{statistics.median(each):.2f}x (each: {', '.join(f'{r:.2f}' for r in each)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--only", choices=PROTOCOLS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--one-conn", action="store_true",
                        help="only 1 connection at the default window (and smpplib for SMPP)")  # fmt: skip
    parser.add_argument("--window", type=int,
                        help="window of the 1-conn kefu runs (default: the protocol's)")  # fmt: skip
    parser.add_argument("--jasmin", action="store_true", help="also send SMPP via Jasmin")
    parser.add_argument("--jasmin-messages", type=int, default=2000,
                        help="messages through Jasmin (it is ~100x slower)")  # fmt: skip
    args = parser.parse_args()
    print(f"loopback, {os.cpu_count()} CPUs, load average {fmt_load()} at start, "
          f"{args.messages} submits per run counted at the simulator, median of {args.repeat}, "
          f"text of {len(TEXT)} characters, no reports", flush=True)  # fmt: skip
    medians: dict[str, Run] = {}
    for protocol in [args.only] if args.only else PROTOCOLS:
        runs = asyncio.run(bench(protocol, args.messages, args.repeat, not args.one_conn,
                                 args.jasmin_messages if args.jasmin else 0, args.window))  # fmt: skip
        print(f"{protocol}: (load average now {fmt_load()})", flush=True)
        for each in runs.values():
            print(median_run(each).row()
                  + f"   each: {', '.join(f'{r.rate:,.0f}' for r in each)}")  # fmt: skip
            if mechanism := median_run(each).mechanism():
                print(mechanism)
        medians[protocol] = median_run(runs["one"])
        if "stop_wait" in runs:
            print(f"  ratio 1-conn default window / window 1: {ratio(runs, 'one', 'stop_wait')}"
                  f"   4 conns / 1 conn: {ratio(runs, 'four', 'one')}")  # fmt: skip
        if "smpplib" in runs:
            print(f"  ratio kefu / smpplib (1 conn, window 10): {ratio(runs, 'one', 'smpplib')}",
                  flush=True)  # fmt: skip
        if "jasmin" in runs:
            print("  (Jasmin CPU column = jasmind + RabbitMQ; 1 SMPP connector = 1 connection)")
            print(f"  ratio kefu / Jasmin (1 connection each): "
                  f"{medians[protocol].rate / runs['jasmin'][0].rate:.1f}x")  # fmt: skip
    if "smpp" in medians and len(medians) > 1:
        base = medians["smpp"].rate
        print(
            "1 conn, median rate against SMPP's (separate runs): "
            + ", ".join(f"{p} {m.rate / base:.2f}x" for p, m in medians.items() if p != "smpp")
        )
    print(f"load average at end {fmt_load()}")


def fmt_load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
