"""Retraining the intent and sentiment models on a bank's own labelled data.

A bank whose lawyers reject research-only training data (SMP2017, weibo2018: docs/models.md)
puts its own CSV files in one folder and runs ``kefu language train --data FOLDER --out DIR``;
with ``KEFU_MODELS_DIR=DIR`` every process then serves those files instead of the shipped ones
(resources.model_path, file by file). Nothing under ``../shared/data`` is read on this path.

The folder may hold:
- ``intents.csv``: ``text,intent`` — intents from the catalogue (kefu.language.intents.INTENTS;
  the assistant has a handler for those only), rows labelled ``other`` teach what is none;
- ``sentiment.csv``: ``text,label`` — ``positive``/``negative``/``neutral`` (or ``1``/``0``);
  trains the fast model and the deep head on the plain encoder's vector (no torch needed),
  and with ``--adapters`` LoRA adapters too (torch);
- ``intents_test.csv`` / ``sentiment_test.csv``: the same columns, never trained on, scored
  after training so the bank sees its own figures.
Every row is checked before anything is trained; errors name the file, row and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.language.intents import INTENTS, classify
from kefu.language.linear import LinearTextModel

INTENT_FILE = "intents.csv"
SENTIMENT_FILE = "sentiment.csv"
SENTIMENT_LABELS = {
    "positive": "positive",
    "negative": "negative",
    "1": "positive",
    "0": "negative",
    "neutral": "neutral",
}
MAX_ROWS = 500_000


class TrainingDataError(ValueError):
    """A training file that cannot be used; the message says where and why."""


@dataclass
class RetrainReport:
    written: list[Path] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def read_labelled(
    path: Path, column: str, allowed: dict[str, str], *, min_labels: int = 2
) -> tuple[list[str], list[str]]:
    """``text`` and ``column`` of every row, labels mapped through ``allowed``; all errors at
    once (up to 20), each with its row number as a spreadsheet shows it."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path.name}: not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    missing = {"text", column} - set(reader.fieldnames or ())
    if missing:
        raise TrainingDataError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
    texts, labels, errors = [], [], []
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise TrainingDataError(f"{path.name}: more than {MAX_ROWS} rows")
        text = (row.get("text") or "").strip()
        label = (row.get(column) or "").strip()
        if not text:
            errors.append(f"{path.name} row {number}: text is empty")
        elif label not in allowed:
            errors.append(f"{path.name} row {number}: {column} {label!r} is not one of "
                          f"{', '.join(sorted(set(allowed)))}")  # fmt: skip
        else:
            texts.append(text)
            labels.append(allowed[label])
        if len(errors) >= 20:
            break
    if errors:
        raise TrainingDataError("\n".join(errors))
    if not texts:
        raise TrainingDataError(f"{path.name}: no rows")
    if len(set(labels)) < min_labels:
        raise TrainingDataError(f"{path.name}: needs examples of at least two {column}s")
    return texts, labels


def _intent_accuracy(model: LinearTextModel, rows: tuple[list[str], list[str]]) -> dict[str, Any]:
    from kefu.language.training import intent_text

    texts, labels = rows
    right = sum(
        classify(intent_text(t), model=model).intent == gold
        for t, gold in zip(texts, labels, strict=True)
    )
    return {"rows": len(texts), "accuracy": round(right / len(texts), 4)}


def _sentiment_accuracy(
    model: LinearTextModel, rows: tuple[list[str], list[str]]
) -> dict[str, Any]:
    from kefu.language.training import predict, sentiment_text

    texts, labels = rows
    pred = predict(model, [sentiment_text(t) for t in texts])
    right = sum(p == g for p, g in zip(pred, labels, strict=True))
    return {"rows": len(texts), "accuracy": round(right / len(texts), 4)}


def _read_if(
    path: Path, column: str, allowed: dict[str, str], *, min_labels: int = 2
) -> tuple[list[str], list[str]] | None:
    return read_labelled(path, column, allowed, min_labels=min_labels) if path.is_file() else None


def retrain(
    data: Path,
    out: Path,
    *,
    deep: bool = True,
    adapters: bool = False,
    deep_epochs: int | None = None,
    weights_file: Path | None = None,
    progress: Callable[[str], None] = print,
) -> RetrainReport:
    """Train what ``data`` holds into ``out``; see the module's docstring for the files."""
    from kefu.language import training

    if not data.is_dir():
        raise TrainingDataError(f"{data} is not a folder")
    intents_csv, sentiment_csv = data / INTENT_FILE, data / SENTIMENT_FILE
    if not intents_csv.is_file() and not sentiment_csv.is_file():
        raise TrainingDataError(f"{data} holds neither {INTENT_FILE} nor {SENTIMENT_FILE}")
    # Validate everything first: a bad file must not leave a half-retrained folder.
    intent_labels = {i: i for i in INTENTS}
    intent_rows = _read_if(intents_csv, "intent", intent_labels)
    intent_test = _read_if(data / "intents_test.csv", "intent", intent_labels, min_labels=1)
    sentiment_rows = _read_if(sentiment_csv, "label", SENTIMENT_LABELS)
    sentiment_test = _read_if(data / "sentiment_test.csv", "label", SENTIMENT_LABELS, min_labels=1)
    out.mkdir(parents=True, exist_ok=True)
    report = RetrainReport()

    if intent_rows is not None:
        texts, labels = intent_rows
        target = out / "intent.joblib"
        model = training.train_intents_on(texts, labels, source=intents_csv.name, out=target)
        report.written.append(target)
        report.figures["intent"] = {"examples": len(texts), **model.meta}
        if intent_test is not None:
            report.figures["intent"]["test"] = _intent_accuracy(model, intent_test)
    if sentiment_rows is not None:
        texts, labels = sentiment_rows
        target = out / "sentiment.joblib"
        model = training.train_sentiment_on(texts, labels, source=sentiment_csv.name, out=target)
        report.written.append(target)
        report.figures["sentiment"] = {"examples": len(texts)}
        if sentiment_test is not None:
            report.figures["sentiment"]["test"] = _sentiment_accuracy(model, sentiment_test)
        if deep:
            _retrain_head(texts, labels, out, weights_file, progress, report)
        if adapters:
            _retrain_deep(texts, labels, out, deep_epochs, weights_file, progress, report)
    return report


def _retrain_head(
    texts: list[str],
    labels: list[str],
    out: Path,
    weights_file: Path | None,
    progress: Callable[[str], None],
    report: RetrainReport,
) -> None:
    """The deep sentiment head on the plain encoder's vector, where its weights are installed."""
    from kefu.language import encoder
    from kefu.language.training import train_sentiment_head_on

    if weights_file is None:
        try:
            encoder.weights_path()
        except encoder.EncoderUnavailable as exc:
            report.skipped.append(f"deep sentiment head: {exc}")
            return
    target = out / "sentiment_head.npz"
    result = train_sentiment_head_on(
        texts, labels, source=SENTIMENT_FILE, out=target, weights_file=weights_file,
        progress=progress,
    )  # fmt: skip
    report.written.append(target)
    report.figures["sentiment_head"] = {"examples": len(texts), "C": result["meta"]["C"]}


def _retrain_deep(
    texts: list[str],
    labels: list[str],
    out: Path,
    epochs: int | None,
    weights_file: Path | None,
    progress: Callable[[str], None],
    report: RetrainReport,
) -> None:
    """LoRA adapters (``--adapters``), where torch and the encoder's weights are installed;
    where they are served they replace the head (sentiment_deep.deep_sentiment)."""
    import importlib.util

    from kefu.language import encoder
    from kefu.language.training import sentiment_text

    if importlib.util.find_spec("torch") is None:
        report.skipped.append(
            "sentiment adapters: torch is not installed (pip install -e '.[train]')"
        )
        return
    if weights_file is None:
        try:
            encoder.weights_path()
        except encoder.EncoderUnavailable as exc:
            report.skipped.append(f"sentiment adapters: {exc}")
            return
    from kefu.language.training_deep import EPOCHS, train_deep_sentiment

    target = out / "sentiment_deep.npz"
    prepared = [sentiment_text(t) for t in texts]
    result = train_deep_sentiment(
        prepared, labels, prepared, out=target, epochs=epochs or EPOCHS, progress=progress,
        weights_file=weights_file,
    )  # fmt: skip
    report.written.append(target)
    report.figures["deep_sentiment"] = {"examples": len(texts), "epochs": result["meta"]["epochs"]}
