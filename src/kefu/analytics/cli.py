"""``kefu analytics``: generate demo traffic, apply retention."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
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
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Delete the events of days older than the retention period, and old replays."""
    from kefu.analytics.service import store_path
    from kefu.analytics.store import DuckDBStore

    settings = settings_for(database_url)
    keep = days or settings.analytics.retention_days
    store = DuckDBStore(store_path(settings))
    try:
        deleted = store.drop_before(datetime.now(UTC).date() - timedelta(days=keep - 1))
    finally:
        store.close()
    typer.echo(f"deleted {deleted} events older than {keep} days")
    replays = asyncio.run(_drop_replays(settings))
    typer.echo(
        f"deleted {replays} replay chunks older than {settings.analytics.replay_retention_days} days"
    )


async def _drop_replays(settings: Any) -> int:
    """Replays are kept in kefu's database, for ``replay_retention_days``."""
    from kefu.analytics import replay
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            cutoff = replay.retention_cutoff(settings.analytics, datetime.now(UTC))
            return await replay.drop_before(db, cutoff)
    finally:
        await engine.dispose()


# Root-cause search on files (issue #16): ``rca`` and ``rca-eval``.
from kefu.analytics.rca.cli import register as _register_rca  # noqa: E402

_register_rca(app)
