"""A CMPP 2.0/3.0 ISMG simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..auth import cmpp_authenticator_ismg, cmpp_authenticator_source
from ..errors import ProtocolError
from ..message import OutMessage, part_from_payload
from ..simulator import CarrierSimulator, ServerSession, SimulatorConfig, Submitted
from . import pdus as p
from .ids import MsgIdFactory
from .link import build_submits, encoding_of, reject


class CmppSimulator(CarrierSimulator):
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    encode = staticmethod(p.encode)  # type: ignore[assignment]

    def __init__(self, config: SimulatorConfig, version: int = 3, gateway: int = 1) -> None:
        super().__init__(config)
        self.dialect = p.CMPP3 if version == 3 else p.CMPP2
        self.protocol = f"cmpp{version}"
        self.ids = MsgIdFactory(gateway)
        self._smsc_seq = 0

    def decode(self, raw: bytes) -> Any:
        return self.dialect.decode(raw)

    async def handle(self, session: ServerSession, pdu: Any) -> bool:
        d = self.dialect
        seq = pdu.sequence
        if isinstance(pdu, p.Connect):
            status = self._check_connect(pdu)
            auth = cmpp_authenticator_ismg(status, pdu.authenticator_source,
                                           self.config.password, d.version)  # fmt: skip
            session.send(d.connect_resp(sequence=seq, status=status, authenticator_ismg=auth,
                                        version=d.version))  # fmt: skip
            if status != p.CONNECT_OK:
                return False
            session.bound = session.can_receive = True
            self.flush_pending(session)
            return True
        if isinstance(pdu, p.ActiveTest):
            session.send(p.ActiveTestResp(sequence=seq))
            return True
        if isinstance(pdu, p.Terminate):
            session.send(p.TerminateResp(sequence=seq))
            return False
        if pdu.command_id & p.RESPONSE_BIT:
            return True
        if not session.bound:
            return False  # CMPP has no error answer for "not connected": drop the link
        if isinstance(pdu, d.submit):
            self._submit(session, pdu)
        elif isinstance(pdu, p.Query):
            session.send(p.QueryResp(sequence=seq, time=pdu.time, query_type=pdu.query_type,
                                     query_code=pdu.query_code, mt_tl_msg=self.stats["submits"],
                                     mt_scs=self.stats["submits"]))  # fmt: skip
        elif isinstance(pdu, p.Cancel):
            session.send(d.cancel_resp(sequence=seq, success_id=1))
        return True

    def _check_connect(self, pdu: p.Connect) -> int:
        if pdu.version > self.dialect.version:
            return p.CONNECT_VERSION_TOO_HIGH
        if pdu.source_addr != self.config.username:
            self.stats["auth_failures"] += 1
            return p.CONNECT_BAD_SOURCE
        expected = cmpp_authenticator_source(self.config.username, self.config.password,
                                             pdu.timestamp)  # fmt: skip
        if expected != pdu.authenticator_source:
            self.stats["auth_failures"] += 1
            return p.CONNECT_AUTH_FAILED
        self.stats["binds"] += 1
        return p.CONNECT_OK

    def _submit(self, session: ServerSession, pdu: Any) -> None:
        d = self.dialect
        if not self.admit(session):
            session.send(d.submit_resp(sequence=pdu.sequence, result=p.RESULT_FLOW_CONTROL))
            return
        if not pdu.dest_terminal_ids:
            session.send(d.submit_resp(sequence=pdu.sequence, result=p.RESULT_BAD_STRUCTURE))
            return
        msg_id = self.ids.next()
        parts = []
        for dest in pdu.dest_terminal_ids:
            try:
                parts.append(part_from_payload(pdu.src_id, dest, encoding_of(pdu.msg_fmt),
                                               pdu.msg_content, bool(pdu.tp_udhi), str(msg_id)))  # fmt: skip
            except ProtocolError:
                session.send(d.submit_resp(sequence=pdu.sequence, result=p.RESULT_BAD_STRUCTURE))
                return
        session.respond(d.submit_resp(sequence=pdu.sequence, msg_id=msg_id, result=0),
                        counted=True)  # fmt: skip
        for part in parts:
            item = Submitted(msg_id, pdu.src_id, part.dest, session,
                             bool(pdu.registered_delivery))  # fmt: skip
            self.accepted(part, item)

    def reject(self, raw: bytes, error: Exception) -> Any:
        return reject(self.dialect, raw)

    def mo_pdus(self, source: str, dest: str, text: str) -> list[Any]:
        submits = build_submits(self.dialect, OutMessage(dest, text, source), "")
        return [
            _as_deliver(self.dialect, s, source, self.ids.next(), dest_id=dest) for s in submits
        ]

    def report_pdu(self, item: Submitted, stat: str) -> Any:
        self._smsc_seq = (self._smsc_seq + 1) & 0xFFFFFFFF
        report = self.dialect.report(
            msg_id=item.message_id, stat=stat,
            submit_time=datetime.fromtimestamp(item.submit_time).strftime("%y%m%d%H%M"),
            done_time=datetime.now().strftime("%y%m%d%H%M"), dest_terminal_id=item.dest,
            smsc_sequence=self._smsc_seq,
        )  # fmt: skip
        return self.dialect.deliver(
            msg_id=self.ids.next(), dest_id=item.source, src_terminal_id=item.dest,
            registered_delivery=1, msg_content=self.dialect.encode_report(report),
        )  # fmt: skip


def _as_deliver(d: p.Dialect, submit: Any, source: str, msg_id: int, dest_id: str) -> Any:
    """The Deliver that carries an injected MO segment built as a submit."""
    return d.deliver(msg_id=msg_id, dest_id=dest_id, src_terminal_id=source,
                     tp_udhi=submit.tp_udhi, msg_fmt=submit.msg_fmt,
                     msg_content=submit.msg_content)  # fmt: skip
