"""An SGIP 1.2 SMG simulator, including the SMG→SP direction for MO and reports."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..client import CarrierClient, RequestFailed
from ..errors import ProtocolError
from ..message import OutMessage, part_from_payload
from ..simulator import CarrierSimulator, ServerSession, SimulatorConfig, Submitted
from . import pdus as p
from .link import SgipLink, build_submits, encoding_of, reject, sequence_text

log = logging.getLogger(__name__)


class SgipSimulator(CarrierSimulator):
    """``deliver_to`` is the SP's listener (host, port) for MO messages and reports."""

    protocol = "sgip"
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    encode = staticmethod(p.encode)  # type: ignore[assignment]
    decode = staticmethod(p.decode)  # type: ignore[assignment]

    def __init__(
        self, config: SimulatorConfig, deliver_to: tuple[str, int] | None = None,
        node_id: int = 3000000000,
    ) -> None:  # fmt: skip
        super().__init__(config)
        self.deliver_to = deliver_to
        self.node_id = node_id
        self.reverse: CarrierClient | None = None
        # MO and reports go out in order through one worker, so neither the control API nor
        # the submit path waits for the SP's listener to be reachable.
        self._outbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=100_000)

    async def start(self) -> None:
        await super().start()
        if self.deliver_to and self.reverse is None:
            link = SgipLink(self.config.username, self.config.password, self.node_id,
                            login_type=p.LOGIN_SMG_TO_SP)  # fmt: skip
            self.reverse = CarrierClient(link, *self.deliver_to, backoff_max=1.0,
                                         response_timeout=5.0, submit_deadline=30.0)  # fmt: skip
            await self.reverse.start(wait=False)
            self.spawn(self._deliver_worker())

    async def stop(self) -> None:
        if self.reverse is not None:
            await self.reverse.close()
            self.reverse = None
        await super().stop()

    async def handle(self, session: ServerSession, pdu: Any) -> bool:
        seq = pdu.sequence
        if isinstance(pdu, p.Bind):
            ok = pdu.login_type == p.LOGIN_SP_TO_SMG and self.authenticate(
                pdu.login_name, pdu.login_password
            )
            session.send(p.BindResp(sequence=seq, result=p.RESULT_OK if ok else p.RESULT_BAD_LOGIN))
            session.bound = ok
            return ok
        if isinstance(pdu, p.Unbind):
            session.send(p.UnbindResp(sequence=seq))
            return False
        if pdu.command_id & p.RESPONSE_BIT:
            return True
        if not session.bound:
            return False
        if isinstance(pdu, p.Submit):
            self._submit(session, pdu)
        return True

    def _submit(self, session: ServerSession, pdu: p.Submit) -> None:
        if not self.admit(session):
            session.send(p.SubmitResp(sequence=pdu.sequence, result=p.RESULT_NODE_BUSY))
            return
        if not pdu.user_numbers:
            session.send(p.SubmitResp(sequence=pdu.sequence, result=p.RESULT_BAD_NUMBER))
            return
        mid = sequence_text(pdu.sequence)
        try:
            parts = [part_from_payload(pdu.sp_number, user, encoding_of(pdu.message_coding),
                                       pdu.message_content, bool(pdu.tp_udhi), mid)
                     for user in pdu.user_numbers]  # fmt: skip
        except ProtocolError:
            session.send(p.SubmitResp(sequence=pdu.sequence, result=p.RESULT_BAD_FORMAT))
            return
        session.respond(p.SubmitResp(sequence=pdu.sequence, result=p.RESULT_OK), counted=True)
        for part in parts:
            item = Submitted(mid, pdu.sp_number, part.dest, session, pdu.report_flag in (0, 1),
                             extra=pdu.sequence)  # fmt: skip
            self.accepted(part, item)

    def reject(self, raw: bytes, error: Exception) -> Any:
        return reject(raw)

    def mo_pdus(self, source: str, dest: str, text: str) -> list[Any]:
        return [
            p.Deliver(
                user_number=source,
                sp_number=dest,
                tp_udhi=s.tp_udhi,
                message_coding=s.message_coding,
                message_content=s.message_content,
            )  # fmt: skip
            for s in build_submits(OutMessage(dest, text, dest))
        ]

    def report_pdu(self, item: Submitted, stat: str) -> Any:
        return p.Report(submit_sequence=item.extra, report_type=0, user_number=item.dest,
                        state=0 if stat == "DELIVRD" else 2,
                        error_code=0 if stat == "DELIVRD" else 1)  # fmt: skip

    async def deliver_to_sp(self, pdus: list[Any], prefer: ServerSession | None = None) -> bool:
        """SGIP delivers over its own connection to the SP's listener (see the worker)."""
        if self.reverse is None:
            self.pending_mo.extend(pdus)
            return False
        for pdu in pdus:
            self._outbox.put_nowait(pdu)
        return True

    async def _deliver_worker(self) -> None:
        while True:
            pdu = await self._outbox.get()
            while self.reverse is not None:
                try:
                    await self.reverse.request(pdu)
                    break
                except RequestFailed as exc:
                    log.info("sgip simulator: delivery to SP failed: %s", exc)
                    if exc.sent:
                        break  # the SP may have it; resending could duplicate it
