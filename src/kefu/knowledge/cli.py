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


@app.command("eval-pairs")
def eval_pairs(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Pair accuracy of the shipped matcher at its shipped threshold (BQ format)."""
    from kefu.knowledge.evaluation import pair_accuracy
    from kefu.knowledge.matcher import shipped_matcher

    pairs = _pairs(path)
    matcher = shipped_matcher()
    typer.echo(f"pairs={len(pairs)} threshold={matcher.pair_threshold:.3f} "
               f"(tuned on {matcher.meta.get('trained_on', '?')})")  # fmt: skip
    typer.echo(f"accuracy={pair_accuracy(pairs, matcher):.3f}")


@app.command("eval-retrieval")
def eval_retrieval(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Index every distinct sentence as an FAQ; recall@1/@5 of each labelled paraphrase."""
    from kefu.knowledge.evaluation import retrieval_recall

    result = retrieval_recall(_pairs(path))
    typer.echo(f"questions={result.questions} queries={result.queries}")
    typer.echo(f"recall@1={result.recall[1]:.3f} recall@5={result.recall[5]:.3f}")
