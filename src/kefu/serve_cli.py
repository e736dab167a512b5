"""``kefu serve`` and ``kefu demo``: kefu's web process, alone or with every channel's demo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import typer
import uvicorn

from kefu.bank.cli import seed_command
from kefu.bank.synthetic.seeder import seeded_customer_count
from kefu.branch.demo import ensure_branch_demo
from kefu.channels.manifest import DemoSetup, load
from kefu.channels.registry import manifests
from kefu.cli_support import DATABASE_URL_OPTION, fail, run, settings_for, until_signalled
from kefu.config import Settings
from kefu.db.engine import make_engine
from kefu.demo import DEMO_PASSWORD, bound_demo_customers, ensure_demo_data
from kefu.outbound.demo import ensure_governance_demo
from kefu.quality.demo import ensure_quality_demo
from kefu.reports.demo import ensure_reports_demo
from kefu.social.demo import ensure_social_demo

HEALTHCHECK_SECONDS = 60  # a web process silent this long is killed and started again


def serve_command(
    host: str = typer.Option(None, "--host", help="Default: KEFU_HOST (127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Default: KEFU_PORT (8000)."),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations first."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Web processes. Above 1 they serve HTTP only (KEFU_ROLE=web) and one `kefu run "
        "workers` is started beside them for the background loops, unless KEFU_ROLE=web says "
        "those run elsewhere (docs/deploy.md).",
    ),  # fmt: skip
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """Serve the web UI and API with uvicorn."""
    # start-up cost: the app (every router) and Alembic load only for the commands that serve
    from kefu.db.migrate import upgrade
    from kefu.runtime import describe_role

    settings = settings_for(database_url)
    if settings.role == "workers":
        raise fail("KEFU_ROLE=workers runs no HTTP: start it with `kefu run workers`")
    if migrate:
        upgrade(settings.database_url)
    options = dict(host=host or settings.host, port=port or settings.port,
                   log_level=settings.log_level.lower(), **settings.proxy_options())  # fmt: skip
    if workers == 1:
        from kefu.app import create_app

        typer.echo(f"kefu serve: {describe_role(settings)}")
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    for problem in several_workers_problems(settings):
        raise fail(problem)
    for warning in several_workers_warnings(settings, workers):
        typer.secho(f"kefu serve: {warning}", err=True, fg=typer.colors.YELLOW)
    beside = None
    if settings.role == "all":  # nobody runs the loops elsewhere: one process beside the web
        beside = start_beside(["run", "workers", "--no-migrate"], role="workers")
    # uvicorn's own supervisor, not one of ours: its children share the one listening socket
    # (the kernel spreads connections), a worker that dies is started again, SIGHUP restarts
    # them all and SIGTERM stops them gracefully. Each child builds its app from the
    # environment (``web_app``), hence KEFU_ROLE in it.
    os.environ["KEFU_ROLE"] = "web"
    typer.echo(f"kefu serve: {workers} web processes; {describe_role(settings, 'web')}")
    if beside is not None:
        typer.echo(f"kefu serve: `kefu run workers` beside them (pid {beside.pid})")
    try:
        # A child answers the supervisor's health ping only once the app is imported (~5 s
        # of CPU, more on a loaded machine): uvicorn's 5 s default killed them while starting.
        uvicorn.run("kefu.serve_cli:web_app", factory=True, workers=workers,
                    timeout_worker_healthcheck=HEALTHCHECK_SECONDS, **options)  # type: ignore[arg-type]  # fmt: skip
    finally:
        if beside is not None:
            stop_beside(beside)


def web_app():  # type: ignore[no-untyped-def]
    """The app of one of ``kefu serve --workers N``'s web processes (uvicorn's factory)."""
    from kefu.app import create_app
    from kefu.config import get_settings

    return create_app(get_settings())


def several_workers_problems(settings: Settings) -> list[str]:
    """What makes N web processes impossible (each needs the same database)."""
    url = settings.database_url
    if settings.is_sqlite and (":memory:" in url or url.rstrip("/").endswith(":")):
        return ["--workers above 1 needs a database every process shares; an in-memory "
                "SQLite database lives in one process (set KEFU_DATABASE_URL)"]  # fmt: skip
    return []


def several_workers_warnings(settings: Settings, workers: int) -> list[str]:
    """What works but worse with N processes; said at start-up rather than found later."""
    out: list[str] = []
    if not settings.bus_url:
        out.append(
            f"KEFU_BUS_URL is not set: each of the {workers} processes keeps its own rate "
            f"limits (partners may get {workers}x their rate) and live pages read the "
            "database every 2 s instead of waking on other processes' writes; set it to a "
            "Redis server (docs/deploy.md)"
        )
    if settings.is_sqlite:
        out.append("SQLite has one writer at a time: N processes queue on it (PostgreSQL "
                   "is the production database)")  # fmt: skip
    return out


def start_beside(args: list[str], *, role: str) -> subprocess.Popen[bytes]:
    """``kefu <args>`` as a child process with ``KEFU_ROLE=role`` (its output goes where
    ours does)."""
    env = {**os.environ, "KEFU_ROLE": role}
    return subprocess.Popen([sys.executable, "-m", "kefu.cli", *args], env=env)


def stop_beside(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_workers_command(
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations first."),
    database_url: str | None = DATABASE_URL_OPTION,
) -> None:
    """The background loops (routing ticker, subscription scheduler, crisis desk, reports,
    quality) until interrupted. Safe in several copies: one holds the lease and runs them,
    the others stand by and take over when it stops or dies."""
    from kefu.bank.factory import make_bank
    from kefu.db.engine import make_sessionmaker
    from kefu.db.migrate import upgrade
    from kefu.logs import configure_logging
    from kefu.runtime import describe_role, start_parts

    settings = settings_for(database_url).model_copy(update={"role": "workers"})
    configure_logging(settings.log_level)
    if migrate:
        upgrade(settings.database_url)

    async def main() -> None:
        engine = make_engine(settings.database_url)
        bank = make_bank(settings, engine)
        running = await start_parts(settings, make_sessionmaker(engine), bank)
        try:
            typer.echo(f"kefu run workers: {describe_role(settings)}; Ctrl-C stops")
            await until_signalled()
        finally:
            await running.stop()
            await bank.close()
            await engine.dispose()

    run(main())


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
