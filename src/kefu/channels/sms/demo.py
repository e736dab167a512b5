"""Carrier simulators for the demo: an SMPP SMSC and a CMPP 3.0 ISMG in the web process,
each with a link from the platform, so a newcomer can text the hall in the browser."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from kefu.channels.manifest import DemoPrepared, DemoSetup
from kefu.channels.sms.config import SmsLink
from kefu.protocols.control import start_control
from kefu.protocols.factory import make_simulator
from kefu.protocols.simulator import CarrierSimulator, SimulatorConfig


@dataclass
class DemoCarriers:
    smpp_port: int = 2775
    smpp_control_port: int = 2776
    cmpp_port: int = 7890
    cmpp_control_port: int = 7891
    simulators: dict[str, CarrierSimulator] = field(default_factory=dict)
    controls: list = field(default_factory=list)

    def links(self) -> list[SmsLink]:
        return [
            SmsLink(name="demo-smpp", protocol="smpp", port=self.smpp_port,
                    username="kefu", password="kefusmpp"),
            SmsLink(name="demo-cmpp", protocol="cmpp3", port=self.cmpp_port,
                    username="900001", password="kefu-cmpp"),
        ]  # fmt: skip

    async def start(self) -> None:
        plan = [
            ("demo-smpp", "smpp", "kefu", "kefusmpp", self.smpp_port, self.smpp_control_port),
            ("demo-cmpp", "cmpp3", "900001", "kefu-cmpp", self.cmpp_port, self.cmpp_control_port),
        ]
        for name, protocol, user, secret, port, control_port in plan:
            sim = make_simulator(
                protocol, SimulatorConfig(user, secret, port=port, report_delay=0.5)
            )
            await sim.start()
            self.simulators[name] = sim
            self.controls.append(await start_control(sim, "127.0.0.1", control_port))

    async def stop(self) -> None:
        for control in self.controls:
            control.should_exit = True
            with contextlib.suppress(Exception):
                await control.task
        for sim in self.simulators.values():
            await sim.stop()


async def prepare(setup: DemoSetup) -> DemoPrepared:
    """`kefu demo`: carrier simulators in the web process, with links to them."""
    p = setup.ports
    carriers = DemoCarriers(p["smpp_port"], p["smpp_control_port"], p["cmpp_port"],
                            p["cmpp_control_port"])  # fmt: skip
    base = f"http://{setup.host}:{setup.port}"
    lines = ["bound demo customers (text the SMS hall 95511 as them):"]
    lines += [f"  {phone}   kefu phone {phone}   or {base}/demo/phone?phone={phone}"
              for phone in setup.phones]  # fmt: skip
    lines.append(
        f"carrier simulators: SMPP 127.0.0.1:{carriers.smpp_port} (control "
        f":{carriers.smpp_control_port}), CMPP 3.0 127.0.0.1:{carriers.cmpp_port} (control "
        f":{carriers.cmpp_control_port})"
    )
    return DemoPrepared(setup.settings, carriers, lines)
