"""``kefu crosssell``: evaluate the propensity model on a bank-marketing file, train the
shipped per-product models on the synthetic bank, and measure next-product recommendation."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for
from kefu.crosssell import propensity, scores, training

app = typer.Typer(no_args_is_help=True, help="Cross-selling: propensity models and offers.")
SEED = 42
AS_OF = date(2026, 6, 30)  # the synthetic bank's reference date the shipped model saw
HELD_OUT_FIRST = 500_000  # customers from here on are never trained on (same seed, other ids)


@app.command("eval")
def eval_(train: Path, test: Path) -> None:
    """Train on TRAIN (the UCI bank-marketing shape, ';'-separated; `duration` is never read)
    and print auc= and average_precision= on TEST, then the logistic-regression baseline's."""
    try:
        result = propensity.evaluate_uci(train, test)
    except propensity.BadFile as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"model=boosted_trees_calibrated train_rows={result['train_rows']} "
        f"test_rows={result['test_rows']} auc={result['auc']:.4f} "
        f"average_precision={result['average_precision']:.4f}"
    )
    typer.echo(
        f"model=logistic_regression auc={result['baseline_auc']:.4f} "
        f"average_precision={result['baseline_average_precision']:.4f}"
    )


@app.command("train")
def train_(
    customers: int = typer.Option(20_000, min=1000, help="synthetic customers to train on"),
    out: Path = typer.Option(training.MODEL_FILE, help="where to write the models"),
    outcomes: bool = typer.Option(
        False,
        help="add the offer outcomes agents recorded (accepted/interested: yes; "
        "declined/not suitable: no) as labelled rows, facts read from the bank port",
    ),
    outcome_weight: float = typer.Option(
        5.0, min=0.1, max=1000, help="how many synthetic rows one recorded outcome weighs"
    ),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Train the per-product propensity models and "customers like you" on the synthetic
    bank (seed 42), with --outcomes the recorded outcomes too, and write them to OUT."""
    facts = [f for f, _ in training.synthetic_facts(SEED, 0, customers, AS_OF)]
    examples: list[training.Example] = []
    if outcomes:
        examples = run(_outcome_examples(settings_for(database_url)))
        typer.echo(f"recorded outcomes as labelled rows: {len(examples)} "
                   f"(yes {sum(e.label for e in examples)}), weight {outcome_weight}")  # fmt: skip
    models = training.train(facts, outcomes=examples, outcome_weight=outcome_weight)
    models.save(out)
    typer.echo(f"trained {len(models.propensity)} product models on {customers} customers: {out}")


async def _outcome_examples(settings) -> list[training.Example]:  # type: ignore[no-untyped-def]
    from kefu.bank.factory import make_bank
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    bank = make_bank(settings, engine)
    try:
        async with make_sessionmaker(engine)() as session:
            return await training.outcome_examples(session, bank, date.today())
    finally:
        await bank.close()
        await engine.dispose()


@app.command("recommend-eval")
def recommend_eval(
    customers: int = typer.Option(5000, min=100, help="held-out synthetic customers"),
    model: Path = typer.Option(training.MODEL_FILE, help="the models to evaluate"),
) -> None:
    """MAP@3 and recall@3 of each held-out customer's newest product (hidden), for the
    product's ranking, co-occurrence alone and "most popular", in one run."""
    models = training.Models.load(model)
    held_out = list(training.synthetic_facts(SEED, HELD_OUT_FIRST, customers, AS_OF))
    result = training.recommendation_eval(models, held_out)
    for name in ("propensity", "co_occurrence", "most_popular"):
        m = result[name]
        typer.echo(f"method={name} customers={result['customers']} "
                   f"map_at_3={m['map_at_3']:.4f} recall_at_3={m['recall_at_3']:.4f}")  # fmt: skip


@app.command("score-all")
def score_all(
    database_url: str | None = DATABASE_URL_OPTION,
    synthetic: int = typer.Option(
        0,
        min=0,
        help="score the first N customers of the synthetic bank instead of the "
        "customers kefu knows (benchmarks, demos)",
    ),
    chunk: int = typer.Option(scores.CHUNK, min=1, max=5000, help="customers per transaction"),
    force: bool = typer.Option(False, help="score again customers already scored this week"),
    model: Path = typer.Option(training.MODEL_FILE, help="the models to score with"),
) -> None:
    """Precompute every customer's offer scores (crosssell_scores) for the offer panel:
    chunked, progress printed; run again after an interruption, it resumes."""
    from sqlalchemy import select

    from kefu.bank.factory import make_bank
    from kefu.bank.synthetic.generator import customer_no
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.identity.models import Customer

    settings = settings_for(database_url)
    try:
        models = training.Models.load(model)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(f"cannot read the models: {exc}") from None

    async def go() -> scores.Progress:
        engine = make_engine(settings.database_url)
        bank = make_bank(settings, engine)
        sessions = make_sessionmaker(engine)
        try:
            if synthetic:
                nos: list[str] = [customer_no(i) for i in range(synthetic)]
            else:
                async with sessions() as session:
                    nos = list(await session.scalars(
                        select(Customer.bank_customer_no).where(
                            Customer.bank_customer_no.is_not(None)).order_by(Customer.id)
                    ))  # fmt: skip
            started = time.monotonic()

            def report(p: scores.Progress) -> None:
                typer.echo(f"scored={p.done} skipped={p.skipped} missing={p.missing} "
                           f"of={len(nos)} seconds={time.monotonic() - started:.0f}")  # fmt: skip

            return await scores.score_all(sessions, bank, nos, models, chunk=chunk,
                                          force=force, today=date.today(), report=report)  # fmt: skip
        finally:
            await bank.close()
            await engine.dispose()

    progress = run(go())
    typer.echo(f"done scored={progress.done} skipped={progress.skipped} missing={progress.missing}")
