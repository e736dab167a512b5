"""``kefu db``: the platform database's schema migrations."""

from __future__ import annotations

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, settings_for

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("heads"), database_url: str | None = DATABASE_URL_OPTION
) -> None:
    """Migrate the platform database to REVISION (default: the latest)."""
    from kefu.db.migrate import upgrade  # start-up cost: Alembic loads only when migrating

    settings = settings_for(database_url)
    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:  # noqa: BLE001 - shown to the operator, not swallowed
        raise fail(f"migration failed: {exc}") from None
    typer.echo(f"database migrated to {revision}")


@app.command("downgrade")
def db_downgrade(revision: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Migrate the platform database back to REVISION ('base' removes every table)."""
    from kefu.db.migrate import downgrade  # start-up cost: Alembic loads only when migrating

    downgrade(settings_for(database_url).database_url, revision)
    typer.echo(f"database migrated to {revision}")
