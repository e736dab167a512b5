"""The SP's SGIP client: a submit link to the SMG plus, optionally, its own listener."""

from __future__ import annotations

from typing import Any

from ..client import CarrierClient
from .link import SgipLink
from .receiver import SgipReceiver


class SgipClient(CarrierClient):
    """Submits over an outbound link; MO and reports arrive on ``receiver`` if one is set up.

    ``listen_port`` (0 picks a free port) starts an :class:`SgipReceiver` that the SMG binds
    to with login type 2 and the same credentials; its messages reach ``on_inbound`` /
    ``inbound`` exactly like those of the other protocols. A connection to that listener that
    has not bound within ``bind_timeout`` seconds is closed.
    """

    def __init__(
        self, host: str, port: int, login_name: str, password: str, *,
        listen_host: str = "127.0.0.1", listen_port: int | None = None, node_id: int = 3000000001,
        corp_id: str = "", bind_timeout: float | None = 10.0, **kw: Any,
    ) -> None:  # fmt: skip
        super().__init__(SgipLink(login_name, password, node_id, corp_id), host, port, **kw)
        self.receiver: SgipReceiver | None = None
        if listen_port is not None:
            # Shares the client's assembler so reassembly timeouts are swept in one place.
            self.receiver = SgipReceiver(login_name, password, self._deliver, listen_host,
                                         listen_port, self.assembler, bind_timeout)  # fmt: skip

    async def start(self, wait: bool = True) -> None:
        if self.receiver is not None:
            await self.receiver.start()
        await super().start(wait)

    async def close(self) -> None:
        await super().close()
        if self.receiver is not None:
            await self.receiver.stop()
