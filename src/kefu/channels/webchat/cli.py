"""``kefu webchat``: mint a customer token as the bank's site would (to test a site's setup)."""

from __future__ import annotations

import time

import typer

from kefu.cli_support import fail, settings_for

app = typer.Typer(help="Web chat: customer tokens for testing.", no_args_is_help=True)


@app.command("token")
def token(
    customer_no: str = typer.Argument(..., help="The bank's customer number, e.g. C0000000001."),
    site: str = typer.Option(..., "--site", help="A site in KEFU_WEBCHAT_SITES (HS256 key)."),
    ttl: int = typer.Option(600, "--ttl", min=10, max=3600, help="Seconds it stays valid."),
) -> None:
    """Print a signed customer token for SITE (what the bank's site passes the widget)."""
    from kefu.channels.webchat.tokens import TokenError, issue_customer_token

    settings = settings_for(None)
    config = next((s for s in settings.webchat_sites if s.name == site), None)
    if config is None:
        raise fail(f"--site: no web chat site {site!r} in KEFU_WEBCHAT_SITES")
    if not config.customer_token_key:
        raise fail(f"--site: site {site!r} has no customer_token_key")
    try:
        typer.echo(issue_customer_token(config, customer_no, now=int(time.time()), ttl=ttl))
    except TokenError as exc:
        raise fail(str(exc)) from None
