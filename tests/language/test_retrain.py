"""A bank retrains the intent and sentiment models on its own CSV files
(``kefu language train --data``) and every process then serves them (KEFU_MODELS_DIR)."""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.language.analyze import analyze
from kefu.language.cli import app
from kefu.language.intents import intent_model
from kefu.language.resources import MODELS_DIR, model_path
from kefu.language.sentiment import sentiment_model

from .conftest import TODAY

# A word no shipped model has seen, taught as the bank's way of asking for points.
BANK_WORD = "喵喵豆"
INTENT_ROWS = (
    [(f"{BANK_WORD}{s}", "points.query") for s in ("", "还有几个", "查一下", "剩多少", "余量")]
    + [(f"查{s}余额", "balance.query") for s in ("", "卡里", "账户", "活期", "一下")]
    + [(f"{s}账单", "bill.query") for s in ("本月", "上月", "查", "看看", "我的")]
    + [("今天天气怎么样", "other"), ("讲个笑话", "other"), ("你是谁", "other")]
)
SENTIMENT_ROWS = [(f"服务{w}", "positive") for w in ("很好", "真棒", "满意", "贴心", "高效")] + [
    (f"服务{w}", "negative") for w in ("很差", "糟糕", "失望", "敷衍", "拖拉")
]


def _write(path: Path, header: tuple[str, str], rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def bank_data(tmp_path: Path) -> Path:
    data = tmp_path / "bank"
    data.mkdir()
    _write(data / "intents.csv", ("text", "intent"), INTENT_ROWS)
    _write(data / "intents_test.csv", ("text", "intent"), [(f"{BANK_WORD}呢", "points.query")])
    _write(data / "sentiment.csv", ("text", "label"), SENTIMENT_ROWS)
    return data


@pytest.fixture
def fresh_models() -> Iterator[None]:
    """Models are loaded once per process: forget them around the test."""
    for loader in (intent_model, sentiment_model):
        loader.cache_clear()  # type: ignore[attr-defined]
    yield
    for loader in (intent_model, sentiment_model):
        loader.cache_clear()  # type: ignore[attr-defined]


def test_train_on_own_data_and_serve_it(
    bank_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_models: None
) -> None:
    before = analyze(f"{BANK_WORD}还剩几个", today=TODAY).intent
    out = tmp_path / "models"
    monkeypatch.setenv("KEFU_MODELS_DIR", str(out))
    monkeypatch.setenv("KEFU_SHARED_DATA", str(tmp_path / "nowhere"))  # reads nothing shared
    result = CliRunner().invoke(app, ["train", "--data", str(bank_data), "--no-deep"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["figures"]["intent"]["out_of_domain_examples"] == 0
    assert report["figures"]["intent"]["test"] == {"rows": 1, "accuracy": 1.0}
    assert {p.name for p in out.iterdir()} == {"intent.joblib", "sentiment.joblib"}
    assert model_path("intent.joblib") == out / "intent.joblib"
    # The deep head was not retrained: the shipped one still serves.
    assert model_path("sentiment_head.npz") == MODELS_DIR / "sentiment_head.npz"

    intent_model.cache_clear()  # type: ignore[attr-defined]
    sentiment_model.cache_clear()  # type: ignore[attr-defined]
    served = analyze(f"{BANK_WORD}还剩几个", today=TODAY, deep=False)
    assert before != "points.query" and served.intent == "points.query"
    assert intent_model().meta["source"] == "intents.csv"
    assert sentiment_model().meta["examples"] == len(SENTIMENT_ROWS)
    assert analyze("服务真棒", today=TODAY, deep=False).sentiment.score > 0
    assert analyze("服务糟糕", today=TODAY, deep=False).sentiment.score < 0


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (
            [("查余额", "balance.query"), ("喵", "cat.feed")],
            ("text", "intent"),
            "row 3: intent 'cat.feed'",
        ),
        (
            [("", "bill.query"), ("查余额", "balance.query")],
            ("text", "intent"),
            "row 2: text is empty",
        ),
        ([("查余额", "balance.query")], ("words", "intent"), "missing column(s) text"),
        ([("查余额", "balance.query")] * 3, ("text", "intent"), "at least two intents"),
    ],
)
def test_bad_training_data_is_refused_and_nothing_written(
    tmp_path: Path, rows: list[tuple[str, str]], header: tuple[str, str], message: str
) -> None:
    data, out = tmp_path / "bank", tmp_path / "models"
    data.mkdir()
    _write(data / "intents.csv", header, rows)
    _write(data / "sentiment.csv", ("text", "label"), SENTIMENT_ROWS)
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


def test_without_a_destination_the_shipped_models_are_not_overwritten(
    bank_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEFU_MODELS_DIR", raising=False)
    shipped = (MODELS_DIR / "intent.joblib").stat().st_mtime_ns
    result = CliRunner().invoke(app, ["train", "--data", str(bank_data)])
    assert result.exit_code == 2 and "KEFU_MODELS_DIR" in result.output
    assert (MODELS_DIR / "intent.joblib").stat().st_mtime_ns == shipped


def test_deep_head_retrained_on_own_data_is_served(
    bank_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The head needs the encoder, not torch: a tiny encoder file stands in for e5 here."""
    from kefu.language import encoder as enc
    from kefu.language import sentiment_deep
    from kefu.language.retrain import retrain

    from .test_sentiment_deep import tiny_model

    weights_file = tmp_path / "tiny.bin"
    weights_file.write_bytes(tiny_model())
    (bank_data / "intents.csv").unlink()
    _write(bank_data / "sentiment.csv", ("text", "label"),
           [*SENTIMENT_ROWS, ("请问网点几点开门", "neutral")])  # fmt: skip
    out = tmp_path / "models"
    report = retrain(bank_data, out, weights_file=weights_file, progress=lambda m: None)
    assert [p.name for p in report.written] == ["sentiment.joblib", "sentiment_head.npz"]
    assert report.figures["sentiment_head"]["examples"] == len(SENTIMENT_ROWS) + 1
    monkeypatch.setenv("KEFU_MODELS_DIR", str(out))
    assert model_path("sentiment_head.npz") == out / "sentiment_head.npz"
    served = sentiment_deep.SentimentHead(model_path("sentiment_head.npz"),
                                          weights=enc.read_weights(weights_file))  # fmt: skip
    assert served.meta["source"] == "sentiment.csv"
    assert served.classes == ("negative", "neutral", "positive")
    assert served.positive(["服务很好"]).shape == (1,)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_sentiment_adapters_retrained_on_own_data_are_served(
    bank_data: Path, tmp_path: Path
) -> None:
    from kefu.language import encoder as enc
    from kefu.language.retrain import retrain
    from kefu.language.sentiment_deep import DeepSentiment

    from .test_sentiment_deep import tiny_model

    weights_file = tmp_path / "tiny.bin"
    weights_file.write_bytes(tiny_model())
    (bank_data / "intents.csv").unlink()
    out = tmp_path / "models"
    report = retrain(bank_data, out, deep=False, adapters=True, deep_epochs=1,
                     weights_file=weights_file, progress=lambda m: None)  # fmt: skip
    assert [p.name for p in report.written] == ["sentiment.joblib", "sentiment_deep.npz"]
    served = DeepSentiment(out / "sentiment_deep.npz", weights=enc.read_weights(weights_file))
    assert served.meta["trained_on"] == len(SENTIMENT_ROWS)
    assert served.positive(["服务很好"]).shape == (1,)
