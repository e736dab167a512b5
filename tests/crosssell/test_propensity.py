"""`kefu crosssell eval`: the product's propensity model and the logistic baseline on a file of
the UCI bank-marketing shape (a small generated one here; the real file in benchmarks/)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.crosssell.cli import app
from kefu.crosssell.propensity import BadFile, UciFeatures, evaluate_uci, read_uci

HEADER = ('"row_id";"age";"job";"marital";"education";"default";"housing";"loan";"contact";'
          '"month";"day_of_week";"duration";"campaign";"pdays";"previous";"poutcome";'
          '"emp.var.rate";"cons.price.idx";"cons.conf.idx";"euribor3m";"nr.employed";"y"')  # fmt: skip


def _write(path: Path, n: int, seed: int, *, leak_duration: bool = False) -> Path:
    """Rows whose answer depends on an earlier success and low euribor (as in the real data);
    ``duration`` equals the answer when ``leak_duration`` (a model reading it would be perfect)."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(n):
        success = rng.random() < 0.15
        euribor = rng.uniform(0.6, 5.0)
        yes = rng.random() < (0.55 if success else 0.05) + (0.25 if euribor < 1.5 else 0.0)
        duration = rng.randint(10, 900)  # drawn either way: the other columns stay the same
        if leak_duration:
            duration = 900 if yes else 10
        lines.append(
            f'{i + 1};{rng.randint(20, 80)};"{rng.choice(["admin.", "retired", "student"])}";'
            f'"married";"university.degree";"no";"{rng.choice(["yes", "no"])}";"no";"cellular";'
            f'"may";"mon";{duration};{rng.randint(1, 5)};{3 if success else 999};'
            f'{1 if success else 0};"{"success" if success else "nonexistent"}";1.1;93.994;-36.4;'
            f'{euribor:.3f};5191;"{"yes" if yes else "no"}"'
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_model_learns_the_signal_and_beats_chance(tmp_path: Path) -> None:
    train, test = _write(tmp_path / "tr.csv", 1500, 1), _write(tmp_path / "te.csv", 600, 2)
    result = evaluate_uci(train, test, max_iter=60)
    assert result["auc"] > 0.75 and result["baseline_auc"] > 0.7
    assert 0 < result["average_precision"] <= 1
    assert result["test_rows"] == 600


def test_duration_is_never_read(tmp_path: Path) -> None:
    """A duration that gives the answer away must not help: the features have no such column."""
    train = _write(tmp_path / "tr.csv", 400, 1, leak_duration=True)
    rows = read_uci(train).rows
    x = UciFeatures(rows).matrix(rows)
    honest = UciFeatures(rows).matrix(read_uci(_write(tmp_path / "h.csv", 400, 1)).rows)
    assert (x == honest).all()  # same rows but for duration: same features


def test_cli_prints_auc_and_average_precision_for_both(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(_write(tmp_path / "tr.csv", 800, 1)),
                                      str(_write(tmp_path / "te.csv", 300, 2))])  # fmt: skip
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert "auc=" in first and "average_precision=" in first and "boosted" in first
    assert second.startswith("model=logistic_regression auc=") and "average_precision=" in second
    # Both figures of both models are numbers a fixture with a planted signal lifts above chance.
    for line in (first, second):
        figures = dict(f.split("=", 1) for f in line.split())
        assert 0.7 < float(figures["auc"]) <= 1.0, line
        assert 0.0 < float(figures["average_precision"]) <= 1.0, line


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"age";"y"\n30;"no"\n', "missing column(s) job"),
        (HEADER + '\n1;30;"admin.";"married";"u";"no";"no";"no";"cellular";"may";"mon";1;1;999;0;'
         '"nonexistent";1.1;93.9;-36.4;4.8;5191;"maybe"\n', 'y must be yes or no, not \'maybe\''),
    ],
)  # fmt: skip
def test_bad_file_names_the_problem(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadFile, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_uci(path)
    result = CliRunner().invoke(app, ["eval", str(path), str(path)])
    assert result.exit_code == 1 and words in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "none.csv"), str(tmp_path / "x")])
    assert result.exit_code == 1 and "none.csv" in result.output
