"""``kefu analytics plant-segments``: signed-in customers with known behaviour, for the
clustering page to find (and the agent's panel to show: C0000009001… struggle to transfer)."""

from __future__ import annotations

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, settings_for


def plant_segments_command(
    customers: int = typer.Option(150, "--per-segment", min=1, max=100_000),
    days: int = typer.Option(30, "--days", min=1, max=400),
    store: str = typer.Option("", "--store", help="DuckDB file; default: the configured one."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Plant four behaviour groups (转账受阻, 理财浏览, 跳出, 办卡申请) of PER_SEGMENT signed-in
    customers each, numbered from C0000009001, over the last DAYS days."""
    from kefu.analytics.clusters.planted import SEGMENTS, customer_number, plant_segments
    from kefu.analytics.service import hash_key, store_path
    from kefu.analytics.store import DuckDBStore

    settings = settings_for(database_url)
    path = store or store_path(settings)
    try:
        target = DuckDBStore(path)
    except Exception as exc:  # e.g. the file is held by a running kefu
        raise fail(f"cannot open the event store {path}: {exc}") from None
    try:
        truth = plant_segments(target, customers, days, hash_key=hash_key(settings))
    finally:
        target.close()
    for i, group in enumerate(SEGMENTS):
        first = customer_number(i * customers)
        typer.echo(f"{group}: {customers} customers from {first}")
    typer.echo(f"{len(truth)} customers planted → {path}")


def register(app: typer.Typer) -> None:
    app.command("plant-segments")(plant_segments_command)
