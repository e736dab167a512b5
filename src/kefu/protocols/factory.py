"""Build a simulator by protocol name (what the CLI and tests use)."""

from __future__ import annotations

from .cmpp.simulator import CmppSimulator
from .sgip.simulator import SgipSimulator
from .simulator import CarrierSimulator, SimulatorConfig
from .smgp.simulator import SmgpSimulator
from .smpp.simulator import SmppSimulator

PROTOCOLS = ("smpp", "cmpp2", "cmpp3", "sgip", "smgp")


def make_simulator(
    protocol: str, config: SimulatorConfig, sgip_deliver_to: tuple[str, int] | None = None
) -> CarrierSimulator:
    if protocol == "smpp":
        return SmppSimulator(config)
    if protocol in ("cmpp2", "cmpp3"):
        return CmppSimulator(config, version=int(protocol[-1]))
    if protocol == "sgip":
        return SgipSimulator(config, deliver_to=sgip_deliver_to)
    if protocol == "smgp":
        return SmgpSimulator(config)
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
