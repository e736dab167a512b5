"""``kefu social …``: the listening rules from the command line, and (mounted here by
kefu/cli.py) the emotion/spam training and the webhook mapping check."""

from __future__ import annotations

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run_in_session, settings_for
from kefu.social.training import train_emotion_command

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Social media: listening rules, models, webhook mappings.")  # fmt: skip
app.command("train-emotion")(train_emotion_command)


@app.command("rules")
def rules(database_url: str | None = DATABASE_URL_OPTION) -> None:
    """List the listening rules (active ones marked *)."""
    from sqlalchemy import select

    from kefu.social.models import ListeningRule

    async def work(db):  # type: ignore[no-untyped-def]
        return (await db.scalars(select(ListeningRule).order_by(ListeningRule.id))).all()

    for rule in run_in_session(settings_for(database_url), work):
        mark = "*" if rule.active else " "
        platforms = ",".join(rule.platforms) or "all"
        typer.echo(f"{mark} {rule.id}\t{rule.name}\t+{'，'.join(rule.include_terms)}"
                   f"\t-{'，'.join(rule.exclude_terms)}\t{platforms}")  # fmt: skip


@app.command("add-rule")
def add_rule(
    name: str = typer.Argument(...),
    include: str = typer.Option(..., help="Include terms, separated by commas."),
    exclude: str = typer.Option("", help="Exclude terms, separated by commas."),
    platforms: str = typer.Option("", help="Platforms (empty: all), separated by commas."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Add an active listening rule (audited as the command line)."""
    from kefu.audit import service as audit
    from kefu.social import listening
    from kefu.social.models import ListeningRule

    terms = listening.parse_terms(include), listening.parse_terms(exclude)
    where = [p.lower() for p in listening.parse_terms(platforms)]
    try:
        listening.validate(name, terms[0], terms[1], where)
    except listening.RuleInvalid as exc:
        raise fail(str(exc)) from None

    async def work(db):  # type: ignore[no-untyped-def]
        rule = ListeningRule(name=name.strip(), include_terms=terms[0], exclude_terms=terms[1],
                             platforms=where, created_by="cli")  # fmt: skip
        db.add(rule)
        await db.flush()
        await audit.record(db, actor="cli", action="social.rule.create",
                           target=f"listening_rule:{rule.id}",
                           details={"name": rule.name, "include_terms": terms[0],
                                    "exclude_terms": terms[1], "platforms": where})  # fmt: skip
        return rule.id

    typer.echo(f"rule {run_in_session(settings_for(database_url), work)} added")


@app.command("terms")
def terms(
    platform: str = typer.Option("weibo", help="The platform whose search is asked."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """The terms a platform's search poller asks for (active rules' include terms)."""
    from kefu.social.listening import active_terms

    async def work(db):  # type: ignore[no-untyped-def]
        return await active_terms(db, platform)

    for term in run_in_session(settings_for(database_url), work):
        typer.echo(term)
