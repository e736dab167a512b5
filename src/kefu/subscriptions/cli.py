"""``kefu subscriptions run-once`` and ``kefu run scheduler``: the scheduler for operations.

Both write into the outbox only; whichever process runs the carrier links (``kefu serve``,
``kefu run sms``) sends what they queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for
from kefu.config import Settings

app = typer.Typer(help="Subscriptions (定制): bill ready, repayment reminders, balance alerts.",
                  no_args_is_help=True)  # fmt: skip


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


async def _with_scheduler(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from kefu.bank.factory import make_bank
    from kefu.channels.sms.gateway import SmsGateway
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.subscriptions.scheduler import SubscriptionScheduler

    engine = make_engine(settings.database_url)
    bank = make_bank(settings, engine)
    factory = make_sessionmaker(engine)
    # The gateway is not started: it only names the link and signs what goes into the outbox.
    outbox = SmsGateway(links=settings.sms_links, sessionmaker=factory, pipeline=None,  # an outbox only: it queues notices, never receives
                        signature=settings.sms_signature, routes=settings.sms_routes)  # fmt: skip
    scheduler = SubscriptionScheduler(sessionmaker=factory, bank=bank, outbox=outbox,
                                      catch_up_days=settings.subscriptions_catch_up_days)  # fmt: skip
    try:
        return await work(scheduler)
    finally:
        await bank.close()
        await engine.dispose()


def _settings(database_url: str | None) -> Settings:
    from kefu.db.migrate import upgrade
    from kefu.logs import configure_logging

    settings = settings_for(database_url)
    if not settings.sms_links:
        raise fail("KEFU_SMS_LINKS: no carrier link is configured to send notices with "
                   "(see docs/channels/sms.md)")  # fmt: skip
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    return settings


@app.command("run-once")
def run_once(
    today: str = typer.Option(
        None, "--today", help="The business day to run for (YYYY-MM-DD); default: today in China."
    ),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """One run now, whatever the hour: queue every notice due and not yet sent."""
    from kefu.subscriptions.scheduler import china_today

    day = _parse_day(today) or china_today()
    settings = _settings(database_url)
    result = run(_with_scheduler(settings, lambda s: s.run_once(day)))
    by_service = ", ".join(f"{k} {v}" for k, v in sorted(result.by_service.items())) or "none"
    typer.echo(
        f"run {result.run_id} for {day.isoformat()}: {result.customers} customers, "
        f"{result.queued} notices queued ({by_service}), {result.already_sent} already sent, "
        f"{result.unbound} not bound, {result.errors} bank errors"
    )


def run_scheduler(database_url: str | None = DATABASE_URL_OPTION) -> None:
    """The subscription scheduler as a process of its own, until interrupted."""
    settings = _settings(database_url)

    async def forever(scheduler: Any) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, scheduler.stopping.set)
        await scheduler.run_forever(interval=settings.subscriptions_interval,
                                    hours=settings.subscriptions_hours)  # fmt: skip

    async def main() -> None:
        typer.echo(f"subscription scheduler: a run every {settings.subscriptions_interval} s, "
                   f"hours {settings.subscriptions_hours[0]}-{settings.subscriptions_hours[1]} "
                   "China time")  # fmt: skip
        await _with_scheduler(settings, forever)

    asyncio.run(main())
