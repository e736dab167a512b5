"""``kefu language …``: analyze stdin, evaluate and retrain the shipped models.

Imports here stay light (no models, no scikit-learn) so that ``kefu --help`` is fast; each
command loads what it needs.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import IO

import typer

app = typer.Typer(help="Chinese text understanding: intents, slots, sentiment, keywords.")

# Lines longer than this are cut before analysis: a pasted log must not stall the pipeline.
MAX_LINE_BYTES = 64 * 1024


def _parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--today must be YYYY-MM-DD, got {value!r}") from None


SENTIMENT_MODES = {"auto": None, "deep": True, "fast": False}


def analyze_stream(source: IO[bytes], sink: IO[str], today: date, deep: bool | None = None) -> int:
    """One JSON object per input line; undecodable lines get ``{"line", "error"}``.

    Returns the number of lines that could not be analysed.
    """
    from kefu.language.analyze import analyze, load_models

    load_models(deep=deep is not False)
    errors = 0
    for number, raw in enumerate(source, start=1):
        raw = raw[:MAX_LINE_BYTES].rstrip(b"\r\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors += 1
            record: dict[str, object] = {
                "line": number,
                "error": f"invalid UTF-8 at byte {exc.start}: line skipped",
            }
        else:
            record = analyze(text.lstrip("\ufeff"), today=today, deep=deep).to_dict()
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        sink.flush()
    return errors


@app.command()
def analyze(
    today: str | None = typer.Option(None, help="Reference date for relative months (YYYY-MM-DD)."),
    sentiment: str = typer.Option(
        "auto",
        help="Sentiment model: 'auto' (deep model too for texts of 20+ characters), "
        "'deep' (for every line) or 'fast' (bag-of-words only, for bulk SMS).",
    ),
) -> None:
    """Read one message per line on stdin, write one JSON object per line on stdout."""
    ref = _parse_today(today)
    if sentiment not in SENTIMENT_MODES:
        raise typer.BadParameter(f"--sentiment must be auto, deep or fast, got {sentiment!r}")
    errors = analyze_stream(sys.stdin.buffer, sys.stdout, ref, SENTIMENT_MODES[sentiment])
    if errors:
        typer.echo(f"{errors} line(s) were not valid UTF-8", err=True)


@app.command("eval")
def evaluate() -> None:
    """Accuracy and macro-F1 of each shipped model on data it was not trained on."""
    from kefu.language.evaluation import evaluate_all

    report = evaluate_all()
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


@app.command()
def train(
    only: str | None = typer.Option(
        None, help="Rebuild just one model: 'intent', 'sentiment' or 'deep-sentiment'."
    ),
    dictionary: bool = typer.Option(False, help="Also regenerate data/jieba_core.txt from jieba."),
    radicals: bool = typer.Option(
        False, help="Also regenerate data/radicals.txt from Unihan (Debian's unicode-data)."
    ),
    data: Path | None = typer.Option(
        None,
        help="A folder with the bank's own intents.csv (text,intent) and/or sentiment.csv "
        "(text,label): train on it alone, into --out (docs/models.md).",
    ),
    out: Path | None = typer.Option(
        None, help="Where --data's models go; default $KEFU_MODELS_DIR, which serving reads."
    ),
    deep: bool = typer.Option(
        True, help="With --data: the deep sentiment head too (needs the encoder, not torch)."
    ),
    adapters: bool = typer.Option(
        False, help="With --data: LoRA sentiment adapters too (torch); they replace the head."
    ),
    epochs: int | None = typer.Option(None, min=1, help="With --data --adapters: epochs."),
) -> None:
    """Rebuild the shipped models from the repo's own data (never ../shared/data), or with
    --data train the bank's own models from its CSV files."""
    from kefu.language import training

    if data is not None:
        _train_own(data, out, deep=deep, adapters=adapters, epochs=epochs)
        return
    if dictionary:
        typer.echo(f"core dictionary: {training.build_core_dictionary()} words")
    if radicals:
        if not training.UNIHAN_IRG.is_file():
            typer.echo(f"{training.UNIHAN_IRG} not found: install Debian's unicode-data", err=True)
            raise typer.Exit(1)
        typer.echo(f"radical table: {training.build_radical_table(training.UNIHAN_IRG)} characters")

    if only not in (None, "intent", "sentiment", "deep-sentiment"):
        raise typer.BadParameter("--only must be 'intent', 'sentiment' or 'deep-sentiment'")
    if only in (None, "intent"):
        model = training.train_intents()
        typer.echo(f"intent model: {len(model.vocabulary)} features, meta {model.meta}")
    if only in (None, "sentiment"):
        model = training.train_sentiment()
        typer.echo(f"sentiment model: {len(model.vocabulary)} features, meta {model.meta}")
    if only in (None, "deep-sentiment"):
        _train_sentiment_head(required=only == "deep-sentiment")


def _train_sentiment_head(required: bool) -> None:
    """The head needs the encoder's weights; a full ``train`` without them says so and goes
    on, ``--only deep-sentiment`` fails."""
    from kefu.language import encoder, training

    try:
        encoder.weights_path()
    except encoder.EncoderUnavailable as exc:
        typer.echo(f"deep sentiment head not rebuilt: {exc}", err=True)
        if required:
            raise typer.Exit(1) from None
        return
    result = training.train_sentiment_head(progress=lambda m: typer.echo(m, err=True))
    meta = result["meta"]
    typer.echo(f"deep sentiment head: trained on {meta['examples']} texts, C {meta['C']}")


def _train_own(
    data: Path, out: Path | None, *, deep: bool, adapters: bool, epochs: int | None
) -> None:
    """``train --data``: the bank's own files only; nothing from ../shared/data is read."""
    from kefu.language.resources import models_override_dir
    from kefu.language.retrain import TrainingDataError, retrain

    out = out or models_override_dir()
    if out is None:
        typer.echo("give --out DIR or set KEFU_MODELS_DIR (the shipped models are not "
                   "overwritten by a bank's data)", err=True)  # fmt: skip
        raise typer.Exit(2)
    try:
        report = retrain(data, out, deep=deep, adapters=adapters, deep_epochs=epochs,
                         progress=lambda m: typer.echo(m, err=True))  # fmt: skip
    except TrainingDataError as exc:
        typer.echo(f"nothing trained: {exc}", err=True)
        raise typer.Exit(1) from None
    for note in report.skipped:
        typer.echo(f"skipped: {note}", err=True)
    typer.echo(json.dumps(
        {"written": [str(p) for p in report.written], "figures": report.figures},
        ensure_ascii=False, indent=2, default=str,
    ))  # fmt: skip
    typer.echo(f"serve them with KEFU_MODELS_DIR={out}", err=True)
