"""``kefu serve`` and ``kefu demo``: kefu's web process, alone or with every channel's demo."""

from __future__ import annotations

import socket

import typer
import uvicorn

from kefu.bank.cli import seed_command
from kefu.bank.synthetic.seeder import seeded_customer_count
from kefu.branch.demo import ensure_branch_demo
from kefu.channels.manifest import DemoSetup, load
from kefu.channels.registry import manifests
from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for
from kefu.db.engine import make_engine
from kefu.demo import DEMO_PASSWORD, bound_demo_customers, ensure_demo_data
from kefu.outbound.demo import ensure_governance_demo
from kefu.quality.demo import ensure_quality_demo
from kefu.reports.demo import ensure_reports_demo
from kefu.social.demo import ensure_social_demo


def serve_command(
    host: str = typer.Option(None, "--host", help="Default: KEFU_HOST (127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Default: KEFU_PORT (8000)."),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations first."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Serve the web UI and API with uvicorn."""
    # start-up cost: the app (every router) and Alembic load only for the commands that serve
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
    # The Weibo API simulator's; a free one when it is taken (kefu.channels.weibo.demo).
    weibo_port: int = typer.Option(8090, "--weibo-port", min=1, max=65535),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Migrate, seed the synthetic bank and demo staff (if not yet done), let each channel set
    up its demo (SMS: carrier simulators; WeChat: the API simulator and an account; web chat:
    a site and the bank's page), print logins and where to try each channel, serve."""
    # start-up cost: the app (every router) and Alembic load only for the commands that serve
    from kefu.analytics.demo import ensure_analytics_demo
    from kefu.app import create_app
    from kefu.db.migrate import upgrade

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
    # The demo serves loopback for one person trying kefu: its API docs are open (they are
    # closed by default, see api_docs_public).
    # Nor does it ask admins for an authenticator code (production does: totp_required_roles).
    settings = settings_for(database_url).model_copy(
        update={"api_docs_public": True, "totp_required_roles": []}
    )
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
    bound = run(bound_demo_customers(settings.database_url))
    phones = list(bound)
    run(ensure_governance_demo(settings.database_url, phones))
    run(ensure_social_demo(settings.database_url))  # listening rules for the Weibo search
    # A month of service history rolled up: the service-centre dashboards are not empty.
    typer.echo(run(ensure_reports_demo(settings.database_url, timezone=settings.timezone)))
    typer.echo(run(ensure_quality_demo(settings.database_url)))  # CSAT answers, QA scores
    typer.echo(run(ensure_branch_demo(settings.database_url)))  # queues: red, yellow, green
    typer.echo(ensure_analytics_demo(settings))  # a month of the demo bank site's traffic
    # Each registered channel prepares its part of the demo (accounts, simulators, bindings).
    ports = {"smpp_port": smpp_port, "smpp_control_port": smpp_control_port,
             "cmpp_port": cmpp_port, "cmpp_control_port": cmpp_control_port,
             "wechat_port": wechat_port, "weibo_port": weibo_port}  # fmt: skip
    demos, lines = {}, []
    for manifest in manifests():
        if manifest.demo is None:
            continue
        setup = DemoSetup(settings, host, port, ports, list(phones), bound)
        prepared = run(load(manifest.demo)(setup))
        settings, demos[manifest.name] = prepared.settings, prepared.demo
        lines += prepared.lines
    typer.echo("")
    typer.echo(f"kefu demo: http://{host}:{port}/   (API docs: http://{host}:{port}/docs)")
    typer.echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
    typer.echo("  (a demo: no authenticator code asked, not even of admin; production asks admins)")
    for username, role in users:
        typer.echo(f"  {username:<12} {role}")
    typer.echo("")
    for line in lines:
        typer.echo(line)
    typer.echo("")
    app = create_app(settings, demo=demos)
    app.state.demo_phones = phones
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        **settings.proxy_options(),  # type: ignore[arg-type]
    )


def port_free(host: str, port: int) -> bool:
    """Whether a TCP server could listen on host:port now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
