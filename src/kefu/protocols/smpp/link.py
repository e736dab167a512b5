"""SMPP 3.4 client link (ESME side): bind_transceiver, submit_sm, deliver_sm handling."""

from __future__ import annotations

from typing import Any

from .. import text as textcodec
from ..errors import AuthenticationFailed, ProtocolError, UnknownCommand
from ..link import FAILED, OK, THROTTLED, Answer, Link, Verdict
from ..message import Inbound, OutMessage, Part, part_from_payload, segments
from ..receipt import parse_receipt
from ..udh import Concat
from . import pdus as p

# data_coding <-> encoding name (SMPP 3.4 §5.2.19)
CODING_OF = {textcodec.GSM7: 0, textcodec.ASCII: 1, textcodec.LATIN1: 3, textcodec.UCS2: 8}
ENCODING_OF = {0: textcodec.GSM7, 1: textcodec.ASCII, 3: textcodec.LATIN1, 8: textcodec.UCS2}
ESM_UDHI = 0x40
ESM_RECEIPT = 0x04
BIND_CLASSES = {"transceiver": p.BindTransceiver, "transmitter": p.BindTransmitter,
                "receiver": p.BindReceiver}  # fmt: skip


def encoding_of(coding: int) -> str:
    return ENCODING_OF.get(coding, textcodec.BINARY)


def sar_concat(tlvs: dict[int, bytes]) -> Concat | None:
    """Concat info from SAR TLVs, if the three of them are present."""
    try:
        ref = int.from_bytes(tlvs[p.TAG_SAR_MSG_REF_NUM], "big")
        total = tlvs[p.TAG_SAR_TOTAL_SEGMENTS][0]
        seq = tlvs[p.TAG_SAR_SEGMENT_SEQNUM][0]
    except (KeyError, IndexError):
        return None
    if not 1 <= seq <= total:
        raise ProtocolError(f"SAR segment {seq} of {total} is out of range")
    return Concat(ref, total, seq)


def part_of(pdu: p.DeliverSm | p.SubmitSm, message_id: str = "") -> Part:
    """The text part a submit_sm / deliver_sm carries (UDH, SAR or message_payload)."""
    payload = pdu.short_message or pdu.tlvs.get(p.TAG_MESSAGE_PAYLOAD, b"")
    part = part_from_payload(
        pdu.source_addr, pdu.destination_addr, encoding_of(pdu.data_coding), payload,
        bool(pdu.esm_class & ESM_UDHI), message_id,
    )  # fmt: skip
    if part.concat is None:
        part.concat = sar_concat(pdu.tlvs)
    return part


def build_submits(msg: OutMessage, allowed: tuple[str, ...]) -> list[p.SubmitSm]:
    out = []
    for seg in segments(msg, allowed, sar=msg.use_sar):
        tlvs = {}
        if msg.use_sar and seg.concat:
            tlvs = {
                p.TAG_SAR_MSG_REF_NUM: seg.concat.ref.to_bytes(2, "big"),
                p.TAG_SAR_TOTAL_SEGMENTS: bytes([seg.concat.total]),
                p.TAG_SAR_SEGMENT_SEQNUM: bytes([seg.concat.seq]),
            }
        out.append(
            p.SubmitSm(
                source_addr=msg.source,
                destination_addr=msg.dest,
                source_addr_ton=5 if msg.source and not msg.source.isdigit() else 0,
                dest_addr_ton=1,
                dest_addr_npi=1,
                esm_class=ESM_UDHI if seg.udhi else 0,
                registered_delivery=int(msg.want_report),
                data_coding=CODING_OF[seg.encoding],
                short_message=seg.payload,
                tlvs=tlvs,
            )  # fmt: skip
        )
    return out


class SmppLink(Link):
    name = "smpp"
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    default_window = 10
    encodings = (textcodec.GSM7, textcodec.LATIN1, textcodec.UCS2)
    encode = staticmethod(p.encode)
    decode = staticmethod(p.decode)

    def __init__(
        self, username: str, password: str, system_type: str = "", mode: str = "transceiver"
    ) -> None:
        super().__init__(username, password)
        self.system_type = system_type
        self.bind_class = BIND_CLASSES[mode]

    def is_response(self, pdu: Any) -> bool:
        return pdu.is_response

    def bind_request(self) -> p.SmppPdu:
        return self.bind_class(
            system_id=self.username, password=self.password, system_type=self.system_type,
            interface_version=0x34,
        )  # fmt: skip

    def check_bind(self, response: Any, request: Any) -> None:
        if isinstance(response, p.GenericNack) or response.command_status != p.ESME_ROK:
            raise AuthenticationFailed(
                f"bind refused, command_status 0x{response.command_status:x}"
            )

    def keepalive_request(self) -> p.SmppPdu:
        return p.EnquireLink()

    def unbind_request(self) -> p.SmppPdu:
        return p.Unbind()

    def submits(self, msg: OutMessage) -> list[p.SubmitSm]:
        return build_submits(msg, self.encodings)

    def verdict(self, response: Any) -> Verdict:
        status = response.command_status
        if status == p.ESME_ROK and isinstance(response, p.SubmitSmResp):
            return Verdict(OK, response.message_id)
        if status in (p.ESME_RTHROTTLED, 0x14):  # 0x14 = ESME_RMSGQFUL, also "slow down"
            return Verdict(THROTTLED, reason=f"throttled (0x{status:x})")
        return Verdict(FAILED, reason=f"{type(response).__name__} command_status 0x{status:x}")

    def answer(self, request: Any) -> Answer:
        if isinstance(request, p.DeliverSm):
            resp = p.DeliverSmResp(sequence=request.sequence)
            if request.esm_class & ESM_RECEIPT:
                return Answer(resp, report=report_of(request))
            return Answer(resp, part=part_of(request))
        if isinstance(request, p.EnquireLink):
            return Answer(p.EnquireLinkResp(sequence=request.sequence))
        if isinstance(request, p.Unbind):
            return Answer(p.UnbindResp(sequence=request.sequence), close=True)
        return Answer(p.GenericNack(sequence=request.sequence, command_status=p.ESME_RINVCMDID))

    def reject(self, raw: bytes, error: Exception) -> p.SmppPdu:
        return nack_for(raw, error)


def nack_for(raw: bytes, error: Exception) -> p.SmppPdu:
    """generic_nack with the status SMPP names for the defect (§5.1.3)."""
    seq = int.from_bytes(raw[12:16], "big") if len(raw) >= 16 else 0
    status = p.ESME_RINVCMDID if isinstance(error, UnknownCommand) else p.ESME_RINVCMDLEN
    return p.GenericNack(sequence=seq, command_status=status)


def report_of(pdu: p.DeliverSm) -> Inbound:
    receipt = parse_receipt(pdu.short_message or pdu.tlvs.get(p.TAG_MESSAGE_PAYLOAD, b""))
    mid = pdu.tlvs.get(p.TAG_RECEIPTED_MESSAGE_ID, b"").rstrip(b"\0") or receipt.message_id
    return Inbound(
        "report", pdu.source_addr, pdu.destination_addr, message_id=mid.decode("ascii", "replace"),
        stat=receipt.stat, delivered=receipt.delivered,
    )  # fmt: skip
