"""Platform commands: db, seed, serve, demo, user, apikey, bank."""

from __future__ import annotations

import sys
import time
from datetime import date

import typer

from kefu.channels.manifest import DemoSetup, load
from kefu.channels.registry import manifests
from kefu.cli_support import DATABASE_URL_OPTION, fail, run, run_in_session, settings_for

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
user_app = typer.Typer(
    help="Service-centre users (agents, supervisors, admins, …).", no_args_is_help=True
)
apikey_app = typer.Typer(help="API keys for system-to-system calls.", no_args_is_help=True)
bank_app = typer.Typer(
    help="The bank port: contract server and OpenAPI document.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("heads"), database_url: str | None = DATABASE_URL_OPTION
) -> None:
    """Migrate the platform database to REVISION (default: the latest)."""
    from kefu.db.migrate import upgrade

    settings = settings_for(database_url)
    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:  # noqa: BLE001 - shown to the operator, not swallowed
        raise fail(f"migration failed: {exc}") from None
    typer.echo(f"database migrated to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str, database_url: str | None = DATABASE_URL_OPTION) -> None:
    """Migrate the platform database back to REVISION ('base' removes every table)."""
    from kefu.db.migrate import downgrade

    downgrade(settings_for(database_url).database_url, revision)
    typer.echo(f"database migrated to {revision}")


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
    from kefu.bank.synthetic.seeder import AlreadySeeded
    from kefu.bank.synthetic.seeder import seed as do_seed
    from kefu.db.engine import make_engine
    from kefu.db.migrate import upgrade

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


def serve_command(
    host: str = typer.Option(None, "--host", help="Default: KEFU_HOST (127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Default: KEFU_PORT (8000)."),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations first."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Serve the web UI and API with uvicorn."""
    import uvicorn

    from kefu.app import create_app
    from kefu.db.migrate import upgrade

    settings = settings_for(database_url)
    if migrate:
        upgrade(settings.database_url)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        **settings.proxy_options(),  # type: ignore[arg-type]
    )


def demo_command(
    customers: int = typer.Option(10_000, "--customers", min=1),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    smpp_port: int = typer.Option(2775, "--smpp-port", min=1, max=65535),
    smpp_control_port: int = typer.Option(2776, "--smpp-control-port", min=1, max=65535),
    cmpp_port: int = typer.Option(7890, "--cmpp-port", min=1, max=65535),
    cmpp_control_port: int = typer.Option(7891, "--cmpp-control-port", min=1, max=65535),
    wechat_port: int = typer.Option(8100, "--wechat-port", min=1, max=65535),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Migrate, seed the synthetic bank and demo staff (if not yet done), let each channel set
    up its demo (SMS: carrier simulators; WeChat: the API simulator and an account; web chat:
    a site and the bank's page), print logins and where to try each channel, serve."""
    from kefu.bank.synthetic.seeder import seeded_customer_count
    from kefu.db.engine import make_engine
    from kefu.db.migrate import upgrade
    from kefu.demo import DEMO_PASSWORD, bound_demo_phones, ensure_demo_data

    # Before anything is seeded: a port already taken is named with the flag that moves it.
    for flag, (where, number) in {
        "--port": (host, port), "--smpp-port": ("127.0.0.1", smpp_port),
        "--smpp-control-port": ("127.0.0.1", smpp_control_port),
        "--cmpp-port": ("127.0.0.1", cmpp_port),
        "--cmpp-control-port": ("127.0.0.1", cmpp_control_port),
        "--wechat-port": ("127.0.0.1", wechat_port),
    }.items():  # fmt: skip
        if not port_free(where, number):
            raise fail(f"{flag}: {where}:{number} is already in use; choose another port")
    settings = settings_for(database_url)
    upgrade(settings.database_url)

    async def count():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url)
        try:
            return await seeded_customer_count(engine)
        finally:
            await engine.dispose()

    if not run(count()):
        seed_command(
            customers=customers, seed=42, as_of=None, reset=False, database_url=database_url
        )  # type: ignore[arg-type]
    users = run(ensure_demo_data(settings.database_url))
    phones = run(bound_demo_phones(settings.database_url))
    customers = run(_customers_of(settings.database_url, phones))
    from kefu.marketing.demo import ensure_governance_demo

    run(ensure_governance_demo(settings.database_url, phones))
    # Each registered channel prepares its part of the demo (accounts, simulators, bindings).
    ports = {"smpp_port": smpp_port, "smpp_control_port": smpp_control_port,
             "cmpp_port": cmpp_port, "cmpp_control_port": cmpp_control_port,
             "wechat_port": wechat_port}  # fmt: skip
    demos, lines = {}, []
    for manifest in manifests():
        if manifest.demo is None:
            continue
        setup = DemoSetup(settings, host, port, ports, list(phones), customers)
        prepared = run(load(manifest.demo)(setup))
        settings, demos[manifest.name] = prepared.settings, prepared.demo
        lines += prepared.lines
    typer.echo("")
    typer.echo(f"kefu demo: http://{host}:{port}/   (API docs: http://{host}:{port}/docs)")
    typer.echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
    for username, role in users:
        typer.echo(f"  {username:<12} {role}")
    typer.echo("")
    for line in lines:
        typer.echo(line)
    typer.echo("")
    import uvicorn

    from kefu.app import create_app

    app = create_app(settings, demo=demos)
    app.state.demo_phones = phones
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        **settings.proxy_options(),  # type: ignore[arg-type]
    )


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
    from kefu.auth.service import UserError, create_user

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
    from kefu.auth.service import UserError, unlock_user

    settings = settings_for(database_url)
    try:
        run_in_session(
            settings, lambda session: unlock_user(session, username=username, actor="cli")
        )
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"user {username} unlocked")


@apikey_app.command("create")
def apikey_create(
    name: str,
    role: str = typer.Option(..., "--role"),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from kefu.auth.service import UserError, create_api_key

    settings = settings_for(database_url)
    try:
        _key, clear = run_in_session(
            settings, lambda session: create_api_key(session, name=name, role=role, actor="cli")
        )
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(clear)


@bank_app.command("serve")
def bank_serve(
    port: int = typer.Option(8090, "--port", min=1, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    token: str = typer.Option(None, "--token", help="Bearer token clients must send."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Serve the synthetic bank over the bank REST contract (for the HTTP adapter)."""
    import uvicorn

    from kefu.bank.http.contract import create_contract_app_for_database

    settings = settings_for(database_url)
    uvicorn.run(
        create_contract_app_for_database(settings.database_url, token=token), host=host, port=port
    )


@bank_app.command("openapi")
def bank_openapi() -> None:
    """Print the bank REST contract as OpenAPI JSON (docs/bank-api.openapi.json)."""
    from kefu.bank.http.contract import contract_openapi_json

    typer.echo(contract_openapi_json())


async def _customers_of(database_url: str, phones: list[str]) -> dict[str, str]:
    """The bank customer number behind each bound demo phone."""
    from sqlalchemy import select

    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.identity.models import ChannelIdentity, Customer
    from kefu.vocabulary import IdentityKind

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = await db.execute(
                select(ChannelIdentity.value, Customer.bank_customer_no)
                .join(Customer, Customer.id == ChannelIdentity.customer_id)
                .where(ChannelIdentity.kind == IdentityKind.PHONE.value,
                       ChannelIdentity.value.in_(phones))
            )  # fmt: skip
            return {phone: customer_no for phone, customer_no in rows.all()}
    finally:
        await engine.dispose()


def port_free(host: str, port: int) -> bool:
    """Whether a TCP server could listen on host:port now."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
