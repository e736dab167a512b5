"""The SP's SGIP listener: the SMG connects here to deliver MO messages and reports."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..errors import ProtocolError
from ..framing import peer_host, split_frames
from ..message import Assembler, Inbound
from . import pdus as p
from .link import deliver_part, reject, report_inbound

log = logging.getLogger(__name__)


class SgipReceiver:
    """Accepts SMG binds (login type 2) and hands reassembled MO and reports to ``deliver``.

    The port is open to whoever reaches it, so a connection must bind within ``bind_timeout``
    seconds (None: no limit) and at most ``max_unbound_per_address`` connections per peer
    address may wait for their bind at once; others are closed.
    """

    def __init__(
        self, username: str, password: str, deliver: Callable[[Inbound], None],
        host: str = "127.0.0.1", port: int = 0, assembler: Assembler | None = None,
        bind_timeout: float | None = 10.0, max_unbound_per_address: int | None = 32,
    ) -> None:  # fmt: skip
        self.username, self.password = username, password
        self.deliver = deliver
        self.host, self.port = host, port
        self.assembler = assembler or Assembler()
        self.bind_timeout = bind_timeout
        self.max_unbound_per_address = max_unbound_per_address
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._unbound: Counter[str] = Counter()  # peer host → connections not bound yet

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = peer_host(writer)
        cap = self.max_unbound_per_address
        if cap is not None and self._unbound[peer] >= cap:
            log.info("sgip receiver: %d unbound connections from %s, refusing", cap, peer)
            writer.transport.abort()
            return
        self._unbound[peer] += 1
        self._writers.add(writer)
        buf = bytearray()
        bound = False
        limit = self.bind_timeout
        # From accept, not from the last byte: trickling bytes does not keep a socket open.
        deadline = None if limit is None else asyncio.get_running_loop().time() + limit
        try:
            while True:
                try:
                    async with asyncio.timeout_at(None if bound else deadline):
                        data = await reader.read(65536)
                except TimeoutError:
                    log.info("sgip receiver: no bind within %ss, closing", limit)
                    return
                if not data:
                    return
                buf += data
                for raw in split_frames(buf, p.HEADER_SIZE, p.MAX_PDU):
                    try:
                        pdu = p.decode(raw)
                    except ProtocolError as exc:
                        log.info("sgip receiver: malformed PDU: %s", exc)
                        if (reply := reject(raw)) is not None:
                            writer.write(p.encode(reply))
                        continue
                    reply, keep, now_bound = self._handle(pdu, bound)
                    if now_bound and not bound:
                        self._unbound[peer] -= 1
                    bound = now_bound
                    if reply is not None:
                        writer.write(p.encode(reply))
                    if not keep:
                        await writer.drain()
                        return
                await writer.drain()
        except (ProtocolError, ConnectionError, OSError) as exc:
            log.info("sgip receiver: link closed: %s", exc)
        finally:
            if not bound:
                self._unbound[peer] -= 1
            self._writers.discard(writer)
            writer.close()

    def _handle(self, pdu: Any, bound: bool) -> tuple[Any | None, bool, bool]:
        seq = pdu.sequence
        if isinstance(pdu, p.Bind):
            ok = (pdu.login_type == p.LOGIN_SMG_TO_SP and pdu.login_name == self.username
                  and pdu.login_password == self.password)  # fmt: skip
            result = p.RESULT_OK if ok else p.RESULT_BAD_LOGIN
            return p.BindResp(sequence=seq, result=result), ok, ok
        if isinstance(pdu, p.Unbind):
            return p.UnbindResp(sequence=seq), False, bound
        if not bound:
            return None, False, bound
        if isinstance(pdu, p.Deliver):
            try:
                done = self.assembler.add(deliver_part(pdu))
            except ProtocolError as exc:
                # Acknowledge anyway: the SMG would only resend the same undecodable text.
                log.warning("sgip receiver: undecodable MO dropped: %s", exc)
                done = None
            if done is not None:
                self.deliver(done)
            return p.DeliverResp(sequence=seq), True, bound
        if isinstance(pdu, p.Report):
            self.deliver(report_inbound(pdu))
            return p.ReportResp(sequence=seq), True, bound
        return None, True, bound
