"""benchmarks/protocols_throughput.py's ``Simulator.stop``: terminate, wait, then kill a
simulator that does not exit; never raises (a loaded machine must not lose a run's figures)."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "protocols_throughput.py"
# A stand-in simulator: says it is ready, then ignores SIGTERM (or not) and sleeps.
CHILD = """
import signal, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(600)
"""


def _bench() -> Any:
    if "protocols_throughput" not in sys.modules:
        spec = importlib.util.spec_from_file_location("protocols_throughput", BENCH)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["protocols_throughput"] = module  # its dataclass looks its module up
        spec.loader.exec_module(module)
    return sys.modules["protocols_throughput"]


def _simulator(bench: Any, kind: str) -> Any:
    sim = object.__new__(bench.Simulator)  # no real simulator: the stop is what is tested
    sim.protocol = "smpp"
    sim.proc = subprocess.Popen([sys.executable, "-c", CHILD, kind], stdout=subprocess.PIPE,
                                text=True)  # fmt: skip
    assert sim.proc.stdout.readline().strip() == "ready"
    return sim


def test_a_simulator_that_ignores_sigterm_is_killed_without_raising(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = _bench()
    monkeypatch.setattr(bench, "STOP_WAIT", 0.5)
    sim = _simulator(bench, "stubborn")
    try:
        sim.stop()
        assert sim.proc.returncode == -signal.SIGKILL
    finally:
        if sim.proc.poll() is None:
            sim.proc.kill()
            sim.proc.wait()


def test_a_simulator_that_exits_on_sigterm_is_not_killed_and_a_second_stop_is_harmless() -> None:
    bench = _bench()
    sim = _simulator(bench, "polite")
    sim.stop()
    assert sim.proc.returncode == -signal.SIGTERM
    sim.stop()
    assert sim.proc.returncode == -signal.SIGTERM
