"""Helpers shared by the ``kefu`` sub-commands: settings with --database-url, clean errors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.config import ConfigError, Settings, get_settings

T = TypeVar("T")

DATABASE_URL_OPTION = typer.Option(
    None,
    "--database-url",
    help="Database URL (sqlite:///path or postgresql://…); overrides KEFU_DATABASE_URL.",
)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"kefu: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def settings_for(database_url: str | None) -> Settings:
    """The settings, with --database-url taking precedence; a bad value exits naming it."""
    if database_url is not None:
        os.environ["KEFU_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    try:
        return get_settings()
    except ConfigError as exc:
        if database_url is not None:
            message = str(exc).replace("KEFU_DATABASE_URL", "--database-url (KEFU_DATABASE_URL)")
        else:
            message = str(exc)
        raise fail(message) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Runs ``work`` in one transaction (committed on success) on its own engine."""
    from kefu.db.engine import make_engine, make_sessionmaker, session_scope

    async def go() -> T:
        engine = make_engine(settings.database_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return run(go())


async def until_signalled() -> None:
    """Returns on the first SIGINT or SIGTERM: how a long-running `kefu run …` command waits."""
    import contextlib
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run_part(name: str) -> Callable[..., None]:
    """`kefu run <name>`: one registered channel in a process of its own, with the platform's
    wiring (bank port, message pipeline), until SIGINT or SIGTERM."""

    def command(database_url: str | None = DATABASE_URL_OPTION) -> None:
        from kefu.bank.factory import make_bank
        from kefu.db.engine import make_engine, make_sessionmaker
        from kefu.db.migrate import upgrade
        from kefu.logs import configure_logging
        from kefu.runtime import start_parts

        settings = settings_for(database_url)
        configure_logging(settings.log_level)
        upgrade(settings.database_url)

        async def main() -> None:
            engine = make_engine(settings.database_url)
            bank = make_bank(settings, engine)
            running = await start_parts(settings, make_sessionmaker(engine), bank, only={name})
            try:
                if not any(value is not None for value in running.state.values()):
                    raise fail(
                        f"the {name} channel has nothing configured to run "
                        f"(see docs/channels/{name}.md)"
                    )
                typer.echo(f"kefu run {name}: running; Ctrl-C stops")
                await until_signalled()
            finally:
                await running.stop()
                await bank.close()
                await engine.dispose()

        run(main())

    command.__doc__ = f"Run the {name} channel alone until interrupted."
    return command
