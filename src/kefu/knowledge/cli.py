"""``kefu knowledge …``: load the demo base, import/export, evaluate the matcher and index."""

from __future__ import annotations

from pathlib import Path

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@app.command("load-demo")
def load_demo(database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Publish the demo knowledge base (200+ bank FAQs) unless it is already there."""
    from kefu.db.engine import make_engine, make_sessionmaker, session_scope
    from kefu.db.migrate import upgrade
    from kefu.knowledge.demo import load_demo_knowledge

    settings = settings_for(database_url)
    upgrade(settings.database_url)

    async def go() -> int:
        engine = make_engine(settings.database_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await load_demo_knowledge(session)
        finally:
            await engine.dispose()

    typer.echo(f"demo FAQs added: {run(go())}")


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help=".csv or .xlsx"),
    actor: str = typer.Option(..., "--actor", help="Who is importing (recorded in the audit log)."),
    publish: bool = typer.Option(False, help="Publish new entries directly instead of drafts."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Import FAQs; all rows or none, with an error per bad row."""
    from kefu.db.engine import make_engine, make_sessionmaker, session_scope
    from kefu.knowledge.importexport import ImportFormatError, import_rows, read_csv, read_xlsx

    settings = settings_for(database_url)
    reader = read_xlsx if path.suffix.lower() == ".xlsx" else read_csv

    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await import_rows(session, rows=reader(path.read_bytes()), actor=actor,
                                         publish=publish)  # fmt: skip
        finally:
            await engine.dispose()

    try:
        report = run(go())
    except ImportFormatError as exc:
        raise fail(f"{path}: {exc}") from None
    for error in report.errors:
        typer.echo(f"{path}: row {error.row}, column {error.column or '-'}: {error.message}")
    if not report.ok:
        raise fail(f"nothing imported: {len(report.errors)} error(s)", 1)
    typer.echo(f"created={report.created} updated={report.updated}")


@app.command("export")
def export_file(
    path: Path = typer.Argument(..., dir_okay=False, help=".csv or .xlsx"),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Export every entry's latest version."""
    from kefu.db.engine import make_engine, make_sessionmaker, session_scope
    from kefu.knowledge.importexport import export_rows, write_csv, write_xlsx

    settings = settings_for(database_url)

    async def go() -> list[list[str]]:
        engine = make_engine(settings.database_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await export_rows(session)
        finally:
            await engine.dispose()

    rows = run(go())
    writer = write_xlsx if path.suffix.lower() == ".xlsx" else write_csv
    path.write_bytes(writer(rows))
    typer.echo(f"exported {len(rows) - 1} entries to {path}")


def _pairs(path: Path):  # type: ignore[no-untyped-def]
    from kefu.knowledge.pairs import PairFileError, read_pairs

    try:
        return read_pairs(path)
    except PairFileError as exc:
        raise fail(str(exc)) from None


def _model(path: Path | None):  # type: ignore[no-untyped-def]
    from kefu.knowledge.evaluation import default_matcher
    from kefu.knowledge.matcher import MatcherModel

    if path is None:
        return default_matcher()
    try:
        return MatcherModel.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise fail(f"{path}: not a matcher model ({exc})") from None


MODEL_OPTION = typer.Option(
    None, "--model", exists=True, dir_okay=False,
    help="A matcher file (matcher.json / matcher_dense.json); default: the shipped one in use.",
)  # fmt: skip


@app.command("eval-pairs")
def eval_pairs(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    model: Path | None = MODEL_OPTION,
) -> None:
    """Pair accuracy of the matcher at its own threshold (BQ format)."""
    from kefu.knowledge.evaluation import pair_accuracy

    pairs = _pairs(path)
    matcher = _model(model)
    kind = "lexical + encoder cosine" if matcher.uses_cosine else "lexical"
    typer.echo(f"pairs={len(pairs)} matcher={kind} threshold={matcher.pair_threshold:.3f} "
               f"(trained on {matcher.meta.get('trained_on', '?')})")  # fmt: skip
    typer.echo(f"accuracy={pair_accuracy(pairs, matcher):.3f}")


@app.command("eval-retrieval")
def eval_retrieval(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    model: Path | None = MODEL_OPTION,
    dense: bool = typer.Option(True, help="Dense retrieval with the encoder (--no-dense: BM25)."),
) -> None:
    """Index every distinct sentence as an FAQ; recall@1/@5 of each labelled paraphrase."""
    from kefu.knowledge.evaluation import retrieval_recall, sentence_index
    from kefu.knowledge.matcher import shipped_matcher
    from kefu.knowledge.pairs import retrieval_queries

    pairs = _pairs(path)
    matcher = _model(model) if model or dense else shipped_matcher()
    if matcher.uses_cosine and not dense:
        raise fail("this matcher weighs the encoder's cosine: leave dense retrieval on")
    index = sentence_index(retrieval_queries(pairs)[0], matcher=matcher, dense=dense)
    result = retrieval_recall(pairs, index=index)
    typer.echo(f"questions={result.questions} queries={result.queries} "
               f"dense={'on' if index.embedder is not None else 'off'}")  # fmt: skip
    typer.echo(f"recall@1={result.recall[1]:.3f} recall@5={result.recall[5]:.3f}")


@app.command("train")
def train_matcher(
    pairs: Path = typer.Option(
        ...,
        "--pairs",
        exists=True,
        dir_okay=False,
        help="CSV sentence1,sentence2,label (1 = same meaning): the bank's own question pairs.",
    ),
    faq: Path | None = typer.Option(
        None,
        "--faq",
        exists=True,
        dir_okay=False,
        help="An FAQ export (kefu knowledge export) whose paraphrases add pairs; default: the demo base.",
    ),
    no_faq: bool = typer.Option(False, "--no-faq", help="Train on the pairs file alone."),
    out_dir: Path | None = typer.Option(
        None,
        "--out-dir",
        file_okay=False,
        help="Where to write matcher.json and matcher_dense.json; default $KEFU_MODELS_DIR, "
        "which serving reads.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="No --out-dir: replace the package's matchers (what the index reads).",
    ),
    c: float = typer.Option(0.1, "--c", min=1e-4, help="Inverse regularisation strength."),
) -> None:
    """Retrain the pair matcher (lexical and, with the encoder, dense) from your own pairs."""
    from kefu.knowledge.matcher import MODEL_PATH
    from kefu.knowledge.training import DEMO_FAQ, train_from_files, write_models
    from kefu.language.resources import models_override_dir

    out_dir = out_dir or models_override_dir()
    # Replacing the shipped matchers changes every answer: only on purpose (and before training).
    if out_dir is None and not force:
        raise fail("give --out-dir DIR (serve it with KEFU_MODELS_DIR=DIR), set KEFU_MODELS_DIR, "
                   f"or --force to replace the matchers in {MODEL_PATH.parent}")  # fmt: skip
    try:
        trained = train_from_files(pairs, faq=None if no_faq else (faq or DEMO_FAQ), c=c)
    except ValueError as exc:  # one class only, too few rows for the folds, unreadable file
        raise fail(f"{pairs}: cannot train: {exc}") from None
    for path in write_models(trained, out_dir or MODEL_PATH.parent):
        typer.echo(f"wrote {path}")
    for model in (trained.lexical, trained.dense):
        if model is not None:
            kind = "dense" if model.uses_cosine else "lexical"
            typer.echo(f"{kind}: out-of-fold accuracy={model.meta['out_of_fold_accuracy']:.3f} "
                       f"thresholds pair={model.pair_threshold:.3f} answer={model.answer_threshold:.3f} "
                       f"suggest={model.suggest_threshold:.3f}")  # fmt: skip
    if trained.dense is None:
        typer.echo("the encoder is unavailable: only the lexical matcher was trained")
