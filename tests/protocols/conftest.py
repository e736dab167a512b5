"""Fixtures pairing our client with our simulator, for every protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kefu.protocols import cmpp, smgp, smpp
from kefu.protocols.client import CarrierClient
from kefu.protocols.factory import PROTOCOLS, make_simulator
from kefu.protocols.sgip import SgipClient
from kefu.protocols.simulator import CarrierSimulator, SimulatorConfig
from tests.ports import free_port

CREDENTIALS = {"smpp": ("kefu", "secret"), "cmpp2": ("900001", "888888"),
               "cmpp3": ("900001", "888888"), "sgip": ("kefusp", "secret"),
               "smgp": ("10001", "secret")}  # fmt: skip


def make_client(protocol: str, port: int, listen_port: int | None, password: str | None = None,
                **kw: Any) -> CarrierClient:  # fmt: skip
    user, secret = CREDENTIALS[protocol]
    secret = password or secret
    if protocol == "smpp":
        return smpp.client("127.0.0.1", port, user, secret, **kw)
    if protocol in ("cmpp2", "cmpp3"):
        return cmpp.client("127.0.0.1", port, user, secret, version=int(protocol[-1]), **kw)
    if protocol == "sgip":
        return SgipClient("127.0.0.1", port, user, secret, listen_port=listen_port, **kw)
    return smgp.client("127.0.0.1", port, user, secret, **kw)


class Pair:
    """A simulator and a client factory for one protocol."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.listen_port = free_port() if protocol == "sgip" else None
        self.clients: list[CarrierClient] = []
        self.sim: CarrierSimulator | None = None

    async def start_sim(self, **config: Any) -> CarrierSimulator:
        user, secret = CREDENTIALS[self.protocol]
        cfg = SimulatorConfig(user, secret, report_delay=0.05, seed=1, **config)
        deliver_to = ("127.0.0.1", self.listen_port) if self.listen_port else None
        self.sim = make_simulator(self.protocol, cfg, deliver_to)
        await self.sim.start()
        return self.sim

    async def client(self, start: bool = True, **kw: Any) -> CarrierClient:
        assert self.sim is not None
        c = make_client(self.protocol, self.sim.port, self.listen_port, **kw)
        self.clients.append(c)
        if start:
            await c.start()
        return c

    async def close(self) -> None:
        for c in self.clients:
            await c.close()
        if self.sim is not None:
            await self.sim.stop()


@pytest.fixture(params=PROTOCOLS)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    p = Pair(request.param)
    yield p
    await p.close()


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` until truthy (returns its value) or fail after ``timeout`` seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)
