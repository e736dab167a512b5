"""``kefu weibo authorize NAME``: the OAuth2 authorisation from a terminal, for set-ups where
no browser reaches kefu's admin page (the heavy imports wait until the command runs)."""

from __future__ import annotations

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for


def authorize_command(
    name: str = typer.Argument(..., help="The account's name in weibo_accounts."),
    code: str = typer.Option("", "--code", help="The code, when you have it already."),
    redirect_uri: str = typer.Option(
        "",
        "--redirect-uri",
        help="The redirect URI registered for the app (default: Weibo's "
        "out-of-band page, or the account's redirect_uri).",
    ),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Authorise kefu for an official account from a terminal (headless set-ups): prints the
    address to open signed in as the account, reads the code Weibo hands back, stores the
    token. Polling and replies pick it up within seconds."""
    import httpx

    from kefu.channels.weibo.api import TokenStore, WeiboApi, WeiboApiError
    from kefu.channels.weibo.oauth import (
        OOB_REDIRECT,
        authorise,
        authorise_interactively,
        code_from,
    )
    from kefu.db.engine import make_engine, make_sessionmaker

    settings = settings_for(database_url)
    account = next((a for a in settings.weibo_accounts if a.name == name), None)
    if account is None:
        known = ", ".join(a.name for a in settings.weibo_accounts) or "none configured"
        raise fail(f"NAME: no Weibo account {name!r} (known: {known})")
    target = redirect_uri or account.redirect_uri or OOB_REDIRECT

    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url)
        try:
            async with httpx.AsyncClient(timeout=settings.weibo_http_timeout) as http:
                api = WeiboApi(account, http=http, tokens=TokenStore(make_sessionmaker(engine),
                               account.name))  # fmt: skip
                if code:
                    return await authorise(api, code_from(code), target, actor="cli")
                return await authorise_interactively(api, read=typer.prompt, say=typer.echo,
                                                     redirect_uri=target)  # fmt: skip
        finally:
            await engine.dispose()

    try:
        token = run(go())
    except WeiboApiError as exc:
        raise fail(f"Weibo refused: {exc.code} {exc.message}") from None
    typer.echo(f"Authorised {account.screen_name} (uid {token.uid}) until "
               f"{token.expires_at:%Y-%m-%d %H:%M} UTC.")  # fmt: skip
