"""``kefu retention …``: the purge (``--dry-run`` reports what it would remove) and legal
holds from the command line (the admin pages offer the same: /privacy)."""

from __future__ import annotations

import json

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run_in_session, settings_for

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Data retention (PIPL): purge by policy, legal holds.")  # fmt: skip


def _print(report: dict) -> None:  # type: ignore[type-arg]
    verb = "would purge" if report["dry_run"] else "purged"
    typer.echo(f"retention {'dry run' if report['dry_run'] else 'purge'} at {report['at']}")
    for kind in report["kinds"]:
        note = f"  ({kind['note']})" if kind["note"] else ""
        typer.echo(f"  {kind['kind']:<18} keep {kind['keep_days']:>5} d  {verb} {kind['due']:>8}"
                   f"  held {kind['held']:>6}{note}")  # fmt: skip


@app.command("purge")
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Remove what each retention policy says is due (never data under a legal hold)."""
    from kefu.analytics.retention import open_for
    from kefu.db.base import utcnow
    from kefu.retention import service

    settings = settings_for(database_url)
    analytics = open_for(settings)  # behaviour events: None while a running kefu holds them

    async def work(db):  # type: ignore[no-untyped-def]
        report = await service.purge(db, settings.retention, now=utcnow(), dry_run=dry_run,
                                     actor="cli", analytics=analytics)  # fmt: skip
        return report.to_dict()

    try:
        report = run_in_session(settings, work)
    finally:
        if analytics is not None:
            analytics.store.close()
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print(report)


@app.command("hold")
def hold(
    reason: str = typer.Option(..., help="Why the data must be kept (a case, a regulator)."),
    customer: str = typer.Option("", help="The bank customer number to hold."),
    conversation: int | None = typer.Option(None, help="The conversation id to hold."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Put a customer's data or one conversation under a legal hold."""
    from kefu.retention import service

    async def work(db):  # type: ignore[no-untyped-def]
        row = await service.add_hold(db, bank_customer_no=customer,
                                     conversation_id=conversation, reason=reason, actor="cli")  # fmt: skip
        return row.id

    try:
        typer.echo(f"hold {run_in_session(settings_for(database_url), work)} added")
    except service.RetentionError as exc:
        raise fail(str(exc)) from None
