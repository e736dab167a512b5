"""Score a directory of RCA instances against its ``injection_info.csv`` (RiskLoc's format):
exact-element precision, recall and F1 summed over instances, and seconds per instance."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kefu.analytics.rca.instance import Instance, InstanceError, parse_causes, read_instance
from kefu.analytics.rca.search import localise


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, predicted: set[str], truth: set[str], seconds: float) -> None:
        self.tp += len(predicted & truth)
        self.fp += len(predicted - truth)
        self.fn += len(truth - predicted)
        self.seconds.append(seconds)


def read_truth(directory: Path) -> dict[str, set[str]]:
    info = directory / "injection_info.csv"
    if not info.exists():
        raise InstanceError(f"{directory} has no injection_info.csv")
    with info.open(newline="") as fh:
        return {row["timestamp"]: parse_causes(row["set"]) for row in csv.DictReader(fh)}


def instance_files(directory: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(directory.iterdir()):
        for suffix in (".csv.gz", ".csv"):
            if p.name.endswith(suffix) and p.name != "injection_info.csv":
                out[p.name[: -len(suffix)]] = p
    return out


Method = Callable[[Instance], set[str]]


def ours(inst: Instance) -> set[str]:
    return {c.text for c in localise(inst)}


def evaluate(
    directory: str | Path,
    method: Method = ours,
    actual: str = "real",
    forecast: str = "predict",
    on_instance: Callable[[str, set[str], set[str], float], None] | None = None,
) -> Score:
    directory = Path(directory)
    truth = read_truth(directory)
    files = instance_files(directory)
    score = Score()
    for name, expected in truth.items():
        if name not in files:
            raise InstanceError(f"{directory}: no instance file for {name}")
        inst = read_instance(files[name], actual, forecast)
        started = time.perf_counter()  # the search only; reading the CSV is not the method
        predicted = method(inst)
        took = time.perf_counter() - started
        score.add(predicted, expected, took)
        if on_instance:
            on_instance(name, predicted, expected, took)
    return score
