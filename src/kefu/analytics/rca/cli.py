"""``kefu analytics rca`` and ``kefu analytics rca-eval``: the root-cause search on files, with
stable names and output so it can be scored against other methods."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, settings_for

ACTUAL_OPTION = typer.Option(
    "real", "--actual", help="Actual-value column, or NUM/DEN for a derived metric (a ratio)."
)
FORECAST_OPTION = typer.Option(
    "predict", "--forecast", help="Forecast column, or NUM/DEN for a derived metric."
)


def rca_command(
    file: Path = typer.Argument(..., help="One instance: dimension columns, actual, forecast."),
    actual: str = ACTUAL_OPTION,
    forecast: str = FORECAST_OPTION,
    explain: bool = typer.Option(False, "--explain", help="Also print each cause's share."),
) -> None:
    """Print the root-cause set of one instance on one line (``a=a3&e=e1;b=b6&d=d1``)."""
    from kefu.analytics.rca import format_causes, localise, read_instance
    from kefu.analytics.rca.instance import InstanceError

    try:
        inst = read_instance(file, actual, forecast)
    except InstanceError as exc:
        raise fail(str(exc)) from None
    causes = localise(inst)
    typer.echo(format_causes(c.element for c in causes))
    if explain:
        for c in causes:
            typer.echo(
                f"  {c.text}: actual {c.actual:.6g}, forecast {c.forecast:.6g}, "
                f"share of change {c.share:.1%}, {c.leaves} leaves, score {c.score:.1f}",
                err=True,
            )


def rca_eval_command(
    directory: Path = typer.Argument(..., help="Instances and their injection_info.csv."),
    actual: str = ACTUAL_OPTION,
    forecast: str = FORECAST_OPTION,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each miss."),
) -> None:
    """Precision, recall and F1 over elements, and seconds per instance, for a directory."""
    from kefu.analytics.rca.evaluate import evaluate
    from kefu.analytics.rca.instance import InstanceError

    def show(name: str, predicted: set[str], truth: set[str], took: float) -> None:
        if verbose and predicted != truth:
            extra, missed = sorted(predicted - truth), sorted(truth - predicted)
            typer.echo(f"{name} ({took:.2f} s): extra {extra or '-'}; missed {missed or '-'}")

    started = time.perf_counter()
    try:
        score = evaluate(directory, actual=actual, forecast=forecast, on_instance=show)
    except (InstanceError, OSError) as exc:
        raise fail(str(exc)) from None
    n = len(score.seconds)
    typer.echo(
        f"instances {n}  precision {score.precision:.3f}  recall {score.recall:.3f}  "
        f"F1 {score.f1:.3f}  (TP {score.tp}, FP {score.fp}, FN {score.fn})"
    )
    if n:
        typer.echo(
            f"seconds per instance: median {statistics.median(score.seconds):.2f}, "
            f"max {max(score.seconds):.2f} (search only; {time.perf_counter() - started:.0f} s "
            "in all with reading)"
        )


def plant_incident_command(
    campaign: str = typer.Option("spring-card", "--campaign"),
    browser: str = typer.Option("Chrome", "--browser"),
    version: str = typer.Option("123", "--version"),
    sessions: int = typer.Option(200, "--sessions", min=1, max=100_000),
    store: str = typer.Option("", "--store", help="DuckDB file; default: the configured one."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Plant today's incident in generated traffic (run after ``generate``): SESSIONS visits
    from CAMPAIGN on BROWSER VERSION that start the card application and give up. The anomaly
    page must then name that campaign on that browser as the top cause."""
    from datetime import UTC, datetime

    from kefu.analytics.anomalies import plant_conversion_drop
    from kefu.analytics.service import store_path
    from kefu.analytics.store import DuckDBStore

    path = store or store_path(settings_for(database_url))
    try:
        target = DuckDBStore(path)
    except Exception as exc:  # e.g. the file is held by a running kefu
        raise fail(f"cannot open the event store {path}: {exc}") from None
    try:
        count = plant_conversion_drop(
            target, datetime.now(UTC).date(), campaign=campaign, browser=browser,
            version=version, sessions=sessions,
        )  # fmt: skip
    except ValueError as exc:
        raise fail(str(exc)) from None
    finally:
        target.close()
    typer.echo(f"{count} events: {sessions} failing sessions of {campaign} on {browser} {version}")


def register(app: typer.Typer) -> None:
    app.command("rca")(rca_command)
    app.command("rca-eval")(rca_eval_command)
    app.command("plant-incident")(plant_incident_command)
