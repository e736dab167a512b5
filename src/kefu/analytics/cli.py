"""``kefu analytics``: generate demo traffic, apply retention."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, settings_for

app = typer.Typer(no_args_is_help=True)


@app.command("generate")
def generate_command(
    days: int = typer.Option(30, "--days", min=1, max=400),
    visitors: int = typer.Option(3000, "--visitors", min=1, max=10_000_000),
    seed: int = typer.Option(15, "--seed"),
    store: str = typer.Option("", "--store", help="DuckDB file; default: the configured one."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Synthetic visits to the demo bank site over the last DAYS days, with the planted facts
    (two campaigns of different ROI, a page broken on Chrome 122, the transfer's SMS step)."""
    from kefu.analytics.generate import generate
    from kefu.analytics.service import hash_key, store_path
    from kefu.analytics.store import DuckDBStore

    settings = settings_for(database_url)
    path = store or store_path(settings)
    try:
        target = DuckDBStore(path)
    except Exception as exc:  # e.g. the file is held by a running kefu
        raise fail(f"cannot open the event store {path}: {exc}") from None
    started = time.perf_counter()
    try:
        count = generate(target, days, visitors, seed=seed, hash_key=hash_key(settings))
    finally:
        target.close()
    typer.echo(f"{count} events in {time.perf_counter() - started:.1f} s → {path}")


@app.command("retention")
def retention_command(
    days: int | None = typer.Option(None, "--days", min=1, help="Default: the setting."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; change nothing."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Delete the events of days older than the retention period, and old replays, except
    those of customers under a legal hold (``kefu retention purge`` does this and the rest)."""
    from kefu.analytics.retention import open_for

    settings = settings_for(database_url)
    analytics = open_for(settings)
    if analytics is None:
        raise fail("the event store is held by a running kefu: use /privacy there")
    if days:
        analytics.settings = analytics.settings.model_copy(update={"retention_days": days})
    try:
        events, replays = asyncio.run(_purge(settings, analytics, dry_run))
    finally:
        analytics.store.close()
    verb = "would delete" if dry_run else "deleted"
    keep, keep_replays = analytics.settings.retention_days, analytics.settings.replay_retention_days
    typer.echo(f"{verb} {events[0]} events older than {keep} days ({events[1]} held)")
    typer.echo(f"{verb} {replays[0]} replay chunks older than {keep_replays} days "
               f"({replays[1]} held)")  # fmt: skip


async def _purge(settings: Any, analytics: Any, dry_run: bool) -> tuple[Any, Any]:
    """Replays are kept in kefu's database, holds too."""
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.retention.service import held_customer_numbers

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            now = datetime.now(UTC)
            held = await held_customer_numbers(db)
            events = await analytics.events(now.date(), held, dry_run=dry_run)
            replays = await analytics.replays(db, now, held, dry_run=dry_run)
            await db.commit()
            return events, replays
    finally:
        await engine.dispose()


# Root-cause search on files (issue #16): ``rca`` and ``rca-eval``.
from kefu.analytics.rca.cli import register as _register_rca  # noqa: E402

_register_rca(app)

# Planted behaviour segments for the clustering page (issue #16): ``plant-segments``.
from kefu.analytics.clusters.cli import register as _register_clusters  # noqa: E402

_register_clusters(app)
