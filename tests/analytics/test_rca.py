"""Root-cause search: planted causes on small instances, derived metrics, the file format, the
CLI and the scorer. The 20 instances of ../shared/data are scored in benchmarks/, not here."""

from __future__ import annotations

import csv
import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kefu.analytics.cli import app
from kefu.analytics.rca import Instance, format_causes, localise, parse_causes, read_instance
from kefu.analytics.rca.evaluate import evaluate
from kefu.analytics.rca.instance import InstanceError

DIMS = {"src": 6, "camp": 5, "browser": 4, "region": 3}


def planted(
    causes: list[dict[str, str]], drop: float = 0.6, noise: float = 0.08, seed: int = 3
) -> tuple[list[str], list[list[str]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = [
        [f"{d}{i + 1}" for d, i in zip(DIMS, combo, strict=True)]
        for combo in itertools.product(*(range(n) for n in DIMS.values()))
    ]
    forecast = rng.gamma(2.0, 50.0, len(rows))
    actual = forecast * (1 + rng.normal(0, noise, len(rows)))
    for cause in causes:
        for i, row in enumerate(rows):
            if all(row[list(DIMS).index(d)] == v for d, v in cause.items()):
                actual[i] = forecast[i] * (1 - drop)
    return list(DIMS), rows, actual, forecast


def test_finds_planted_causes_at_different_layers() -> None:
    truth = [{"camp": "camp3", "browser": "browser2"}, {"src": "src5"}]
    dims, rows, actual, forecast = planted(truth)
    causes = localise(Instance.from_rows(dims, rows, actual, forecast))
    assert format_causes(c.element for c in causes) == "browser=browser2&camp=camp3;src=src5"
    # the shares of the change add up to about all of it (noise explains the rest)
    assert 0.9 < sum(c.share for c in causes) < 1.1


def test_pure_children_beat_a_mixed_parent() -> None:
    # three of camp1's four browsers dropped: naming camp1 would blame browser4 too
    truth = [{"camp": "camp1", "browser": f"browser{b}"} for b in (1, 2, 3)]
    dims, rows, actual, forecast = planted(truth, drop=0.5)
    got = {c.text for c in localise(Instance.from_rows(dims, rows, actual, forecast))}
    assert got == {"browser=browser1&camp=camp1", "browser=browser2&camp=camp1",
                   "browser=browser3&camp=camp1"}  # fmt: skip


def test_no_anomaly_no_cause() -> None:
    dims, rows, actual, forecast = planted([], noise=0.1)
    assert localise(Instance.from_rows(dims, rows, actual, forecast)) == []


def test_derived_metric_conversion_rate() -> None:
    # sessions unchanged everywhere; conversions of one campaign on one region halve
    dims, rows, sessions, _ = planted([], noise=0.0)
    rng = np.random.default_rng(5)
    rate = rng.uniform(0.05, 0.15, len(rows))
    conv_f = sessions * rate
    conv_a = conv_f * (1 + rng.normal(0, 0.05, len(rows)))
    for i, row in enumerate(rows):
        if row[1] == "camp2" and row[3] == "region1":
            conv_a[i] = conv_f[i] * 0.5
    inst = Instance.from_rows(dims, rows, conv_a, conv_f, sessions, sessions)
    assert format_causes(c.element for c in localise(inst)) == "camp=camp2&region=region1"


def write_instance(path: Path, dims, rows, actual, forecast) -> None:  # type: ignore[no-untyped-def]
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*dims, "real", "predict"])
        for row, a, f in zip(rows, actual, forecast, strict=True):
            w.writerow([*row, a, f])


def test_cli_rca_and_eval(tmp_path: Path) -> None:
    truth = [{"region": "region2", "src": "src1"}]
    write_instance(tmp_path / "101.csv.gz", *planted(truth))
    write_instance(tmp_path / "102.csv.gz", *planted([{"browser": "browser4"}], seed=9))
    (tmp_path / "injection_info.csv").write_text(
        "timestamp,set\n101,src=src1&region=region2\n102,browser=browser4;camp=camp1\n"
    )
    runner = CliRunner()
    out = runner.invoke(app, ["rca", str(tmp_path / "101.csv.gz")])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "region=region2&src=src1"
    out = runner.invoke(app, ["rca-eval", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "precision 1.000  recall 0.667  F1 0.800" in out.output
    score = evaluate(tmp_path)
    assert (score.tp, score.fp, score.fn) == (2, 0, 1)


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,real,predict\nx,y,1,oops\n")
    with pytest.raises(InstanceError, match="'oops' is not a number"):
        read_instance(bad)
    with pytest.raises(InstanceError, match="no column actual"):
        read_instance(bad, actual="actual")
    out = CliRunner().invoke(app, ["rca", str(bad)])
    assert out.exit_code == 2
    assert "not a number" in out.output
    assert parse_causes("b=2&a=1; c=3") == {"a=1&b=2", "c=3"}
