"""``kefu user`` and ``kefu apikey``: service-centre logins and system-to-system keys."""

from __future__ import annotations

import sys

import typer

from kefu.auth.service import (
    UserError,
    create_api_key,
    create_user,
    reset_totp,
    unlock_user,
)
from kefu.cli_support import DATABASE_URL_OPTION, fail, run_in_session, settings_for

user_app = typer.Typer(
    help="Service-centre users (agents, supervisors, admins, …).", no_args_is_help=True
)
apikey_app = typer.Typer(help="API keys for system-to-system calls.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    username: str,
    role: str = typer.Option(..., "--role", help="agent, supervisor, admin, analyst or teller."),
    display_name: str = typer.Option(None, "--display-name"),
    password: str = typer.Option(
        None, "--password", help="Omit to be prompted; '-' reads one line from stdin."
    ),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Create a user who can log in to the web UI."""
    if password == "-":
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = settings_for(database_url)
    try:
        run_in_session(settings, lambda session: create_user(
            session, username=username, password=password, role=role,
            display_name=display_name, actor="cli"))  # fmt: skip
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"user {username} ({role}) created")


@user_app.command("unlock")
def user_unlock(username: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Lift a login lock-out."""
    settings = settings_for(database_url)
    try:
        run_in_session(
            settings, lambda session: unlock_user(session, username=username, actor="cli")
        )
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"user {username} unlocked")


@user_app.command("reset-totp")
def user_reset_totp(username: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Remove a user's authenticator (a lost phone); they enrol a new one at their next login.
    Their sessions end; audited totp.reset. The way back in for a locked-out administrator."""
    settings = settings_for(database_url)
    try:
        had = run_in_session(
            settings, lambda session: reset_totp(session, username=username, actor="cli")
        )
    except UserError as exc:
        raise fail(str(exc)) from None
    if had:
        typer.echo(f"user {username}: authenticator removed; they enrol again at their next login")
    else:
        typer.echo(f"user {username} had no authenticator; nothing removed (sessions ended)")


@apikey_app.command("create")
def apikey_create(
    name: str,
    role: str = typer.Option(..., "--role"),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    settings = settings_for(database_url)
    try:
        _key, clear = run_in_session(
            settings, lambda session: create_api_key(session, name=name, role=role, actor="cli")
        )
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(clear)
