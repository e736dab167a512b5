"""An SMPP 3.4 SMSC simulator."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from ..errors import ProtocolError
from ..message import OutMessage
from ..receipt import Receipt, format_receipt
from ..simulator import CarrierSimulator, ServerSession, Submitted
from . import pdus as p
from .link import ESM_RECEIPT, SmppLink, build_submits, nack_for, part_of

_BIND_RESP = {
    p.BindTransmitter: p.BindTransmitterResp,
    p.BindReceiver: p.BindReceiverResp,
    p.BindTransceiver: p.BindTransceiverResp,
}


class SmppSimulator(CarrierSimulator):
    protocol = "smpp"
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    encode = staticmethod(p.encode)  # type: ignore[assignment]
    decode = staticmethod(p.decode)  # type: ignore[assignment]
    _ids = itertools.count(1)

    async def handle(self, session: ServerSession, pdu: Any) -> bool:
        seq = pdu.sequence
        if type(pdu) in _BIND_RESP:
            resp_cls = _BIND_RESP[type(pdu)]
            if session.bound:
                session.send(resp_cls(sequence=seq, command_status=p.ESME_RALYBND))
            elif self.authenticate(pdu.system_id, pdu.password):
                session.bound = True
                session.can_receive = not isinstance(pdu, p.BindTransmitter)
                session.send(resp_cls(sequence=seq, system_id="kefu-sim",
                                      tlvs={p.TAG_SC_INTERFACE_VERSION: b"\x34"}))  # fmt: skip
                self.flush_pending(session)
            else:
                session.send(resp_cls(sequence=seq, command_status=p.ESME_RINVPASWD))
                return False
            return True
        if isinstance(pdu, p.EnquireLink):
            session.send(p.EnquireLinkResp(sequence=seq))
            return True
        if isinstance(pdu, p.Unbind):
            session.send(p.UnbindResp(sequence=seq))
            return False
        if pdu.is_response:
            return True  # deliver_sm_resp / enquire_link_resp to our own requests
        if not session.bound:
            session.send(p.GenericNack(sequence=seq, command_status=p.ESME_RINVBNDSTS))
            return True
        if isinstance(pdu, p.SubmitSm):
            self._submit(session, pdu)
            return True
        resp_cls = p.RESPONSE_OF.get(pdu.command_id, p.GenericNack)
        session.send(resp_cls(sequence=seq, command_status=p.ESME_RINVCMDID))
        return True

    def _submit(self, session: ServerSession, pdu: p.SubmitSm) -> None:
        if not self.admit(session):
            session.send(p.SubmitSmResp(sequence=pdu.sequence, command_status=p.ESME_RTHROTTLED))
            return
        try:
            part = part_of(pdu)
        except ProtocolError:
            session.send(p.SubmitSmResp(sequence=pdu.sequence, command_status=p.ESME_RSUBMITFAIL))
            return
        mid = f"{next(self._ids):x}"
        session.respond(p.SubmitSmResp(sequence=pdu.sequence, message_id=mid), counted=True)
        item = Submitted(mid, pdu.source_addr, pdu.destination_addr, session,
                         bool(pdu.registered_delivery & 0x03))  # fmt: skip
        self.accepted(part, item)

    def reject(self, raw: bytes, error: Exception) -> Any:
        return nack_for(raw, error)

    def mo_pdus(self, source: str, dest: str, text: str) -> list[Any]:
        submits = build_submits(OutMessage(dest, text, source), SmppLink.encodings)
        return [p.DeliverSm(**{k: v for k, v in vars(s).items() if k != "sequence"})
                for s in submits]  # fmt: skip

    def report_pdu(self, item: Submitted, stat: str) -> Any:
        stamp = datetime.fromtimestamp(item.submit_time).strftime("%y%m%d%H%M")
        done = datetime.now().strftime("%y%m%d%H%M")
        body = format_receipt(
            Receipt(str(item.message_id).encode(), stat, "000" if stat == "DELIVRD" else "001",
                    stamp, done, dlvrd="001" if stat == "DELIVRD" else "000")
        )  # fmt: skip
        return p.DeliverSm(
            source_addr=item.dest, destination_addr=item.source, esm_class=ESM_RECEIPT,
            short_message=body, tlvs={
                p.TAG_RECEIPTED_MESSAGE_ID: str(item.message_id).encode() + b"\0",
                p.TAG_MESSAGE_STATE: bytes([2 if stat == "DELIVRD" else 5]),
            },
        )  # fmt: skip
