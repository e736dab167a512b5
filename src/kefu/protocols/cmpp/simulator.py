"""A CMPP 2.0/3.0 ISMG simulator.

A 3.0 simulator also accepts 2.0 clients, as real gateways do, and then speaks 2.0 on that
link: CMPP_CONNECT's Version picks the layout of every later PDU (1-octet Status/Result,
21-octet terminal ids, 2.0 reports). A 2.0 simulator refuses a 3.0 client with Status 4
(version too high), answered in its own 2.0 layout.
"""

from __future__ import annotations

import dataclasses
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

    def dialect_of(self, session: ServerSession) -> p.Dialect:
        return session.dialect or self.dialect

    def decode_for(self, session: ServerSession, raw: bytes) -> Any:
        return self.dialect_of(session).decode(raw)

    def encode_for(self, session: ServerSession, pdu: Any) -> bytes:
        # Deliveries are built once in the simulator's version and may wait in the queue for
        # whichever link binds next: they take that link's layout as they leave.
        return p.encode(in_dialect(pdu, self.dialect_of(session)))

    def reject_for(self, session: ServerSession, raw: bytes, error: Exception) -> Any:
        return reject(self.dialect_of(session), raw)

    def _version_for(self, version: int) -> tuple[p.Dialect, int]:
        """The dialect to answer a CMPP_CONNECT of ``version`` in, and the status it gets."""
        major = version >> 4
        if major > self.dialect.version >> 4:
            return self.dialect, p.CONNECT_VERSION_TOO_HIGH
        if major == p.VERSION_3 >> 4:
            return p.CMPP3, p.CONNECT_OK
        if major == p.VERSION_2 >> 4:
            return p.CMPP2, p.CONNECT_OK
        return self.dialect, p.CONNECT_OTHER_ERROR

    async def handle(self, session: ServerSession, pdu: Any) -> bool:
        seq = pdu.sequence
        if isinstance(pdu, p.Connect):
            d, status = self._version_for(pdu.version)
            if status == p.CONNECT_OK:
                status = self._check_connect(pdu)
            auth = cmpp_authenticator_ismg(status, pdu.authenticator_source,
                                           self.config.password, d.version)  # fmt: skip
            session.send(d.connect_resp(sequence=seq, status=status, authenticator_ismg=auth,
                                        version=d.version))  # fmt: skip
            if status != p.CONNECT_OK:
                return False
            session.dialect = d
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
        d = self.dialect_of(session)
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
        d = self.dialect_of(session)
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


def in_dialect(pdu: Any, d: p.Dialect) -> Any:
    """``pdu`` in the layout of ``d``: a Deliver (and the report it carries) is rebuilt."""
    if not isinstance(pdu, p.DeliverV2 | p.DeliverV3) or isinstance(pdu, d.deliver):
        return pdu
    values = {f.name: getattr(pdu, f.name) for f in dataclasses.fields(d.deliver)
              if f.init and hasattr(pdu, f.name)}  # fmt: skip
    if pdu.registered_delivery:
        source = p.CMPP3 if isinstance(pdu, p.DeliverV3) else p.CMPP2
        report = source.decode_report(pdu.msg_content)
        values["msg_content"] = d.encode_report(d.report(**dataclasses.asdict(report)))
    return d.deliver(**values)
