"""An SMGP 3.0 SMGW simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..auth import smgp_authenticator_client, smgp_authenticator_server
from ..errors import ProtocolError
from ..message import OutMessage
from ..receipt import Receipt, format_receipt
from ..simulator import CarrierSimulator, ServerSession, SimulatorConfig, Submitted
from . import pdus as p
from .ids import MsgIdFactory
from .link import build_submits, part_of, reject


class SmgpSimulator(CarrierSimulator):
    protocol = "smgp"
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    encode = staticmethod(p.encode)  # type: ignore[assignment]
    decode = staticmethod(p.decode)  # type: ignore[assignment]

    def __init__(self, config: SimulatorConfig, smgw: int = 1) -> None:
        super().__init__(config)
        self.ids = MsgIdFactory(smgw)

    async def handle(self, session: ServerSession, pdu: Any) -> bool:
        seq = pdu.sequence
        if isinstance(pdu, p.Login):
            status = self._check_login(pdu)
            auth = smgp_authenticator_server(status, pdu.authenticator_client, self.config.password)
            session.send(p.LoginResp(sequence=seq, status=status, authenticator_server=auth,
                                     server_version=p.VERSION_3))  # fmt: skip
            if status != p.STATUS_OK:
                return False
            session.bound = True
            session.can_receive = pdu.login_mode != p.LOGIN_SEND
            self.flush_pending(session)
            return True
        if isinstance(pdu, p.ActiveTest):
            session.send(p.ActiveTestResp(sequence=seq))
            return True
        if isinstance(pdu, p.Exit):
            session.send(p.ExitResp(sequence=seq))
            return False
        if pdu.command_id & p.RESPONSE_BIT:
            return True
        if not session.bound:
            return False
        if isinstance(pdu, p.Submit):
            self._submit(session, pdu)
        elif isinstance(pdu, p.Query):
            session.send(p.QueryResp(sequence=seq, time=pdu.time, query_type=pdu.query_type,
                                     query_code=pdu.query_code, mt_tl_msg=self.stats["submits"],
                                     mt_scs=self.stats["submits"]))  # fmt: skip
        return True

    def _check_login(self, pdu: p.Login) -> int:
        if pdu.client_version > p.VERSION_3:
            return p.STATUS_VERSION_TOO_HIGH
        expected = smgp_authenticator_client(self.config.username, self.config.password,
                                             pdu.timestamp)  # fmt: skip
        if pdu.client_id != self.config.username or expected != pdu.authenticator_client:
            self.stats["auth_failures"] += 1
            return p.STATUS_AUTH_FAILED
        self.stats["binds"] += 1
        return p.STATUS_OK

    def _submit(self, session: ServerSession, pdu: p.Submit) -> None:
        def answer(status: int, msg_id: bytes = b"\0" * 10) -> p.SubmitResp:
            return p.SubmitResp(sequence=pdu.sequence, msg_id=msg_id, status=status)

        if not self.admit(session):
            session.send(answer(p.STATUS_SYSTEM_BUSY))
            return
        if not pdu.dest_term_ids:
            session.send(answer(p.STATUS_BAD_STRUCTURE))
            return
        msg_id = self.ids.next()
        try:
            parts = [part_of(pdu.src_term_id, dest, pdu.msg_format, pdu.msg_content, pdu.tlvs,
                             msg_id.hex()) for dest in pdu.dest_term_ids]  # fmt: skip
        except ProtocolError:
            session.send(answer(p.STATUS_BAD_STRUCTURE))
            return
        session.respond(answer(p.STATUS_OK, msg_id), counted=True)
        for part in parts:
            self.accepted(part, Submitted(msg_id, pdu.src_term_id, part.dest, session,
                                          bool(pdu.need_report)))  # fmt: skip

    def reject(self, raw: bytes, error: Exception) -> Any:
        return reject(raw)

    def mo_pdus(self, source: str, dest: str, text: str) -> list[Any]:
        now = datetime.now().strftime("%Y%m%d%H%M%S")
        return [
            p.Deliver(
                msg_id=self.ids.next(),
                is_report=0,
                msg_format=s.msg_format,
                recv_time=now,
                src_term_id=source,
                dest_term_id=dest,
                msg_content=s.msg_content,
                tlvs=s.tlvs,
            )  # fmt: skip
            for s in build_submits(OutMessage(dest, text, source))
        ]

    def report_pdu(self, item: Submitted, stat: str) -> Any:
        body = format_receipt(
            Receipt(item.message_id, stat, "000" if stat == "DELIVRD" else "001",
                    datetime.fromtimestamp(item.submit_time).strftime("%y%m%d%H%M"),
                    datetime.now().strftime("%y%m%d%H%M")),
            fixed_id_len=10,
        )  # fmt: skip
        return p.Deliver(msg_id=self.ids.next(), is_report=1, msg_format=0,
                         recv_time=datetime.now().strftime("%Y%m%d%H%M%S"),
                         src_term_id=item.dest, dest_term_id=item.source, msg_content=body)  # fmt: skip
