"""Wait prediction by method. (1) The call-centre log (research-only data), served calls that
queued: the validation split the features were chosen on (days 1-12 train, 13-16 score), then
the later days (1-16 train, 17-23 score). (2) Simulated branch days (our own data): the
shipped model against the rule and Erlang C on days it never saw, and the calibration of the
map's bands (how often a customer shown green/yellow/red really waited <10, 10-20, >20 min).

    .venv/bin/python benchmarks/branch_prediction.py [path/to/anonymous_bank_callcenter_aug_train.csv]
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections import Counter
from pathlib import Path

from kefu.branch.prediction import callcenter
from kefu.branch.prediction.baselines import band
from kefu.branch.prediction.evaluate import compare, erlang, score
from kefu.branch.prediction.model import WaitModel
from kefu.branch.simulator import BranchPlan, default_profiles, simulate_day

DEFAULT = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "anonymous_bank_callcenter_aug_train.csv"
)


def callcentre(path: Path, last_train_day: int, first_day: int, last_day: int, label: str) -> None:
    """Train on days 1..last_train_day, score on first_day..last_day (days of the month)."""
    rows = list(csv.reader(path.open(encoding="utf-8")))
    header, body = rows[0], rows[1:]
    d = header.index("date")
    with tempfile.TemporaryDirectory() as tmp:
        train, test = Path(tmp) / "train.csv", Path(tmp) / "test.csv"
        for target, keep in (
            (train, lambda r: int(r[d][-2:]) <= last_train_day),
            (test, lambda r: first_day <= int(r[d][-2:]) <= last_day),
        ):
            with target.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([header] + [r for r in body if keep(r)])
        tr = callcenter.queued_states(callcenter.read_calls(train))
        te = callcenter.queued_states(callcenter.read_calls(test))
    scores, _ = compare(tr[:2], te[:2])
    for s in scores:
        print(f"callcentre {label} {s.method}: n={s.n} mae={s.mae:.1f} rmse={s.rmse:.1f}")


def branch_days() -> None:
    states, waits = [], []
    for day in range(100, 110):  # seeds the shipped model (0-39) never saw
        plans = [BranchPlan(f"B{i}", default_profiles(3 + i), base_per_hour=14 + 5 * i + day % 7)
                 for i in range(4)]  # fmt: skip
        for c in simulate_day(plans, seed=day, weekday=day % 5):
            if c.start is not None and c.state is not None:
                states.append(c.state)
                waits.append(c.start - c.arrival)
    model = WaitModel.load()
    predicted = model.predict(states)
    for s in (score("rule", [x.rule for x in states], waits), score("erlang_c", erlang(states), waits),
              score("gbm_shipped", predicted, waits)):  # fmt: skip
        print(f"simulated branch days {s.method}: n={s.n} mae={s.mae:.1f} rmse={s.rmse:.1f}")
    shown = Counter((band(p), band(w)) for p, w in zip(predicted, waits, strict=True))
    for colour in ("green", "yellow", "red"):
        total = sum(n for (p, _), n in shown.items() if p == colour)
        right = shown[(colour, colour)]
        print(f"band {colour}: shown={total} really_{colour}={right / total if total else 0:.2f}")


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if path.exists():
        # Features and hyper-parameters were chosen on the first split only (model card).
        callcentre(path, 12, 13, 16, "validation days 13-16 (train 1-12)")
        callcentre(path, 16, 17, 23, "days 17-23 (train 1-16)")
    else:
        print(f"{path} absent: call-centre part skipped")
    branch_days()
