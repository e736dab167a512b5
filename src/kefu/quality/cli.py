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


@app.command("check-rules")
def check_rules(path: str = typer.Argument(..., help="A YAML rules file.")) -> None:
    """Validate a rules file (the field at fault is named)."""
    from kefu.quality.inspection import RulesError, load_rules

    try:
        rules = load_rules(path)
    except RulesError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{len(rules.rules)} rules, version {rules.version or '-'}")
