"""``kefu bank`` (the contract server and its OpenAPI document) and ``kefu seed`` (the
synthetic bank's data)."""

from __future__ import annotations

import time
from datetime import date

import typer
import uvicorn

from kefu.bank.synthetic.seeder import AlreadySeeded
from kefu.bank.synthetic.seeder import seed as do_seed
from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for
from kefu.db.engine import make_engine

app = typer.Typer(help="The bank port: contract server and OpenAPI document.", no_args_is_help=True)


@app.command("serve")
def bank_serve(
    port: int = typer.Option(8090, "--port", min=1, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    token: str = typer.Option(None, "--token", help="Bearer token clients must send."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Serve the synthetic bank over the bank REST contract (for the HTTP adapter)."""
    # start-up cost: the contract's FastAPI app loads only for this command
    from kefu.bank.http.contract import create_contract_app_for_database

    settings = settings_for(database_url)
    uvicorn.run(
        create_contract_app_for_database(settings.database_url, token=token), host=host, port=port
    )


@app.command("openapi")
def bank_openapi() -> None:
    """Print the bank REST contract as OpenAPI JSON (docs/bank-api.openapi.json)."""
    # start-up cost: the contract's FastAPI app loads only for this command
    from kefu.bank.http.contract import contract_openapi_json

    typer.echo(contract_openapi_json())


def seed_command(
    customers: int = typer.Option(
        10_000, "--customers", min=1, max=10_000_000, help="How many bank customers."
    ),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same bank."),
    as_of: str = typer.Option(None, "--as-of", help="Reference date YYYY-MM-DD (default today)."),
    reset: bool = typer.Option(False, "--reset", help="Replace an existing synthetic bank."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Generate the synthetic bank (customers, accounts, cards, bills, branches, products)."""
    from kefu.db.migrate import upgrade  # start-up cost: Alembic loads only when migrating

    try:
        reference = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise fail(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    settings = settings_for(database_url)
    upgrade(settings.database_url)
    started = time.perf_counter()
    last_print = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last_print[0] > 2:
            last_print[0] = now
            rate = done / max(now - started, 1e-9)
            typer.echo(
                f"  {done:,}/{total:,} customers ({done / total:.0%}), {rate:,.0f}/s", err=True
            )

    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url)
        try:
            return await do_seed(engine, customers=customers, seed=seed, as_of=reference,
                                 reset=reset, progress=progress)  # fmt: skip
        finally:
            await engine.dispose()

    try:
        result = run(go())
    except AlreadySeeded as exc:
        raise fail(str(exc)) from None
    elapsed = time.perf_counter() - started
    typer.echo(f"seeded {result.customers:,} customers ({result.rows:,} rows) in {elapsed:.1f} s")
