"""``kefu sms simulator``: run a carrier simulator with its HTTP control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from enum import StrEnum

import typer

from .control import start_control
from .factory import make_simulator
from .simulator import SimulatorConfig

app = typer.Typer(help="SMS carrier protocols: simulators.", no_args_is_help=True)


class Protocol(StrEnum):
    smpp = "smpp"
    cmpp2 = "cmpp2"
    cmpp3 = "cmpp3"
    sgip = "sgip"
    smgp = "smgp"


def _host_port(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("expected HOST:PORT", param_hint="--sgip-deliver-to")
    return host, int(port)


@app.command()
def simulator(
    protocol: Protocol = typer.Option(..., help="Carrier protocol to speak."),
    port: int = typer.Option(..., help="TCP port for the protocol (0 = any free port)."),
    control_port: int = typer.Option(..., help="HTTP port of the control API."),
    username: str = typer.Option(..., help="system_id / Source_Addr / LoginName / ClientID."),
    password: str = typer.Option(..., help="Password or shared secret."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    report_delay: float = typer.Option(0.5, min=0, help="Seconds before a status report."),
    failure_ratio: float = typer.Option(0.0, min=0, max=1, help="Share of failed reports."),
    max_tps: float = typer.Option(
        0, min=0, help="Submits per second before throttling (0 = no limit)."
    ),
    window: int = typer.Option(
        0, min=0, help="Unanswered submits per link before throttling (0 = no limit)."
    ),
    response_delay: float = typer.Option(0.0, min=0, help="Seconds before answering a submit."),
    sgip_deliver_to: str = typer.Option("", help="SGIP only: HOST:PORT of the SP's listener."),
    seed: int = typer.Option(None, help="Seed for the failure draw (reproducible runs)."),
    bind_timeout: float = typer.Option(
        10.0, min=0, help="Seconds a connection may stay open without binding (0 = no limit)."
    ),
) -> None:
    """Run a carrier simulator until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = SimulatorConfig(
        username, password, host, port, report_delay, failure_ratio, max_tps or None,
        window or None, response_delay, seed, bind_timeout=bind_timeout or None,
    )  # fmt: skip
    deliver_to = _host_port(sgip_deliver_to)
    asyncio.run(_run(protocol.value, config, control_port, deliver_to))


async def _run(
    protocol: str, config: SimulatorConfig, control_port: int, deliver_to: tuple[str, int] | None
) -> None:
    sim = make_simulator(protocol, config, deliver_to)
    await sim.start()
    control = await start_control(sim, config.host, control_port)
    typer.echo(
        f"{protocol} simulator on {config.host}:{sim.port}, control API on "
        f"http://{config.host}:{control.servers[0].sockets[0].getsockname()[1]}",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    control.should_exit = True
    await control.task  # type: ignore[attr-defined]
    await sim.stop()
