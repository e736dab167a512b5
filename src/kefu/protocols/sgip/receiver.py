"""The SP's SGIP listener: the SMG connects here to deliver MO messages and reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..errors import ProtocolError
from ..framing import split_frames
from ..message import Assembler, Inbound
from . import pdus as p
from .link import deliver_part, reject, report_inbound

log = logging.getLogger(__name__)


class SgipReceiver:
    """Accepts SMG binds (login type 2) and hands reassembled MO and reports to ``deliver``."""

    def __init__(
        self, username: str, password: str, deliver: Callable[[Inbound], None],
        host: str = "127.0.0.1", port: int = 0, assembler: Assembler | None = None,
    ) -> None:  # fmt: skip
        self.username, self.password = username, password
        self.deliver = deliver
        self.host, self.port = host, port
        self.assembler = assembler or Assembler()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

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
        self._writers.add(writer)
        buf = bytearray()
        bound = False
        try:
            while data := await reader.read(65536):
                buf += data
                for raw in split_frames(buf, p.HEADER_SIZE, p.MAX_PDU):
                    try:
                        pdu = p.decode(raw)
                    except ProtocolError as exc:
                        log.info("sgip receiver: malformed PDU: %s", exc)
                        if (reply := reject(raw)) is not None:
                            writer.write(p.encode(reply))
                        continue
                    reply, keep, bound = self._handle(pdu, bound)
                    if reply is not None:
                        writer.write(p.encode(reply))
                    if not keep:
                        await writer.drain()
                        return
                await writer.drain()
        except (ProtocolError, ConnectionError, OSError) as exc:
            log.info("sgip receiver: link closed: %s", exc)
        finally:
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
