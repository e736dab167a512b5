"""``kefu run sms``: the SMS gateway as a process of its own (links, outbox, MO answers)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from kefu.cli_support import DATABASE_URL_OPTION, fail, settings_for

app = typer.Typer(help="Run a part of kefu as a process of its own.", no_args_is_help=True)


@app.command("sms")
def run_sms(database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Keep the configured carrier links bound and answer texts until interrupted."""
    from kefu.bank.factory import make_bank
    from kefu.channels.sms.runtime import start_gateway
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.db.migrate import upgrade
    from kefu.logs import configure_logging

    settings = settings_for(database_url)
    if not settings.sms_links:
        raise fail("KEFU_SMS_LINKS: no carrier link is configured (see docs/channels/sms.md)")
    configure_logging(settings.log_level)
    upgrade(settings.database_url)

    async def main() -> None:
        engine = make_engine(settings.database_url)
        bank = make_bank(settings, engine)
        gateway = await start_gateway(settings, make_sessionmaker(engine), bank)
        assert gateway is not None
        typer.echo(f"sms gateway running with links: {', '.join(gateway.links)}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await gateway.stop()
            await bank.close()
            await engine.dispose()

    asyncio.run(main())
