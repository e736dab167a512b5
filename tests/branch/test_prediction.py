"""Wait prediction: the baselines' arithmetic, features known at arrival, the evaluation CLI
on a tiny slice of the call-centre log (two mornings), and the shipped model."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.branch.cli import app
from kefu.branch.prediction import baselines, callcenter
from kefu.branch.prediction.features import FEATURES, QueueState
from kefu.branch.prediction.model import WaitModel
from kefu.branch.services import kind

DATA = Path(__file__).parent / "data"


def test_rule_and_erlang_c() -> None:
    assert baselines.rule_wait(ahead=4, servers=2, mean_service=300) == 750
    # M/M/2 at load 1 (λ = 1/300 per s, E[S] = 300 s): P(wait) = 1/3, mean wait 100 s.
    assert math.isclose(baselines.erlang_c(2, 1.0), 1 / 3)
    assert math.isclose(baselines.erlang_c_wait(2, 1 / 300, 300), 100.0)
    assert baselines.erlang_c_wait(2, 3 / 300, 300) == 3600  # overloaded: capped
    assert [baselines.band(w) for w in (30, 700, 1500)] == ["green", "yellow", "red"]


def test_states_use_only_what_was_known_at_arrival() -> None:
    states, waits, days = callcenter.queued_states(callcenter.read_calls(DATA / "calls_test.csv"))
    assert len(states) == len(waits) == len(days) > 20 and set(days) == {"2010-08-03"}
    assert all(w >= 0 for w in waits) and all(s.servers >= 1 for s in states)
    first = min(states, key=lambda s: s.hour)
    assert first.last_wait == -1.0  # nobody served yet: no "last wait" from the future


def test_predict_eval_prints_mae_and_rmse_per_method() -> None:
    result = CliRunner().invoke(
        app,
        [
            "predict-eval",
            str(DATA / "calls_train.csv"),
            str(DATA / "calls_test.csv"),
            "--iterations",
            "40",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    lines = dict(re.findall(r"^(\w+): n=\d+ (mae=[\d.]+ rmse=[\d.]+)$", result.output, re.M))
    assert set(lines) == {"rule", "erlang_c", "last_wait", "gbm"}
    maes = {m: float(v.split()[0][4:]) for m, v in lines.items()}
    assert maes["gbm"] < maes["erlang_c"]  # the learned model beats the load-only baseline


def test_predict_eval_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,q_start\n2010-08-01,0:00:00\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["predict-eval", str(bad), str(bad)])
    assert result.exit_code == 1 and "missing columns" in result.output


def test_shipped_model_was_trained_on_these_features() -> None:
    model = WaitModel.load()
    busy = QueueState(ahead=12, waiting=20, servers=2, mean_service=400, last_wait=1500,
                      recent_wait=1400, arrivals_30min=20, served_10min=3, priority=0,
                      kind=kind("cash"), hour=12.0, weekday=0)  # fmt: skip
    quiet = QueueState(ahead=0, waiting=1, servers=4, mean_service=300, last_wait=0,
                       recent_wait=10, arrivals_30min=3, served_10min=2, priority=0,
                       kind=kind("cash"), hour=15.0, weekday=2)  # fmt: skip
    long, short = model.predict([busy, quiet])
    assert long > 600 > short >= 0
    assert len(FEATURES) == len(busy.vector())


def test_training_refuses_too_few_examples() -> None:
    with pytest.raises(ValueError, match="too few"):
        WaitModel.train([], [])
