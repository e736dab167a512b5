"""``kefu quality …``: inspect closed conversations now, and check a rules file."""

from __future__ import annotations

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run_in_session, settings_for

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Quality: CSAT and inspection (质检).")  # fmt: skip


@app.command("inspect")
def inspect_now(
    limit: int = typer.Option(1000, min=1, max=100_000, help="At most this many conversations."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Score the closed conversations not inspected yet (the quality worker does this every
    interval) and bring the search index up to date."""
    from kefu.conversations import search
    from kefu.db.base import utcnow
    from kefu.quality import service
    from kefu.quality.inspection import RulesError, load_rules

    settings = settings_for(database_url)
    try:
        rules = load_rules(settings.quality.rules_file)
    except RulesError as exc:
        raise fail(str(exc)) from None

    async def work(db):  # type: ignore[no-untyped-def]
        done = await service.inspect_pending(db, rules, now=utcnow(), limit=limit,
                                             sample_rate=settings.quality.sample_rate)  # fmt: skip
        indexed = await search.catch_up(db, lag_seconds=0)
        return done, indexed

    done, indexed = run_in_session(settings, work)
    typer.echo(f"inspected {done} conversations; indexed {indexed} messages")


@app.command("reindex")
def reindex(
    processes: int = typer.Option(2, min=1, max=64, help="Worker processes segmenting (jieba)."),
    batch: int = typer.Option(500, min=1, max=20_000, help="Messages per worker task."),
    limit: int | None = typer.Option(None, min=1, help="Stop after this many messages."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Backfill the conversation search index on several processes, from where it stands
    (resumable; safe while the app indexes: a message is indexed once)."""
    import asyncio

    from kefu.conversations.reindex import Progress, make_pool
    from kefu.conversations.reindex import reindex as run_reindex
    from kefu.db.engine import make_engine, make_sessionmaker

    settings = settings_for(database_url)

    def show(p: Progress) -> None:
        typer.echo(f"indexed {p.indexed} messages, up to id {p.last_message_id}, "
                   f"{p.rate:.0f} messages/s")  # fmt: skip

    async def go() -> Progress:
        engine = make_engine(settings.database_url)
        try:
            with make_pool(processes) as pool:
                return await run_reindex(make_sessionmaker(engine), pool, processes=processes,
                                         batch=batch, limit=limit, progress=show)  # fmt: skip
        finally:
            await engine.dispose()

    done = asyncio.run(go())
    typer.echo(f"done: {done.indexed} messages in {done.seconds:.1f} s "
               f"({done.rate:.0f} messages/s on {processes} processes)")  # fmt: skip


@app.command("check-rules")
def check_rules(path: str = typer.Argument(..., help="A YAML rules file.")) -> None:
    """Validate a rules file (the field at fault is named)."""
    from kefu.quality.inspection import RulesError, load_rules

    try:
        rules = load_rules(path)
    except RulesError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{len(rules.rules)} rules, version {rules.version or '-'}")
