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
