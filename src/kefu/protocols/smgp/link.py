"""SMGP 3.0 client link (SP side)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..auth import smgp_authenticator_client, smgp_authenticator_server, timestamp
from ..cmpp.link import ENCODINGS, FMT_OF, encoding_of
from ..errors import AuthenticationFailed
from ..link import FAILED, OK, THROTTLED, Answer, Link, Verdict
from ..message import Inbound, OutMessage, Part, part_from_payload, segments
from ..receipt import parse_receipt
from . import pdus as p

MSG_TYPE_MO, MSG_TYPE_MT = 0, 6


def build_submits(msg: OutMessage) -> list[p.Submit]:
    segs = segments(msg, ENCODINGS)
    out = []
    for i, seg in enumerate(segs, 1):
        tlvs = {}
        if seg.udhi:
            tlvs = {p.TAG_TP_UDHI: b"\x01", p.TAG_PK_TOTAL: bytes([len(segs)]),
                    p.TAG_PK_NUMBER: bytes([i])}  # fmt: skip
        out.append(
            p.Submit(
                msg_type=MSG_TYPE_MT,
                need_report=int(msg.want_report),
                priority=1,
                fee_type="00",
                msg_format=FMT_OF[seg.encoding],
                src_term_id=msg.source,
                dest_term_ids=[msg.dest],
                msg_content=seg.payload,
                tlvs=tlvs,
            )  # fmt: skip
        )
    return out


def part_of(source: str, dest: str, fmt: int, content: bytes, tlvs: dict[int, bytes],
            message_id: str = "") -> Part:  # fmt: skip
    udhi = tlvs.get(p.TAG_TP_UDHI, b"\0")[:1] == b"\x01"
    return part_from_payload(source, dest, encoding_of(fmt), content, udhi, message_id)


class SmgpLink(Link):
    name = "smgp"
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    default_window = 16
    encodings = ENCODINGS
    encode = staticmethod(p.encode)
    decode = staticmethod(p.decode)

    def is_response(self, pdu: Any) -> bool:
        return bool(pdu.command_id & p.RESPONSE_BIT)

    def bind_request(self, now: datetime | None = None) -> p.Login:
        ts = timestamp(now)
        auth = smgp_authenticator_client(self.username, self.password, ts)
        return p.Login(client_id=self.username, authenticator_client=auth,
                       login_mode=p.LOGIN_TRANSMIT, timestamp=ts, client_version=p.VERSION_3)  # fmt: skip

    def check_bind(self, response: Any, request: Any) -> None:
        if not isinstance(response, p.LoginResp):
            raise AuthenticationFailed(f"unexpected answer to Login: {response!r}")
        if response.status != p.STATUS_OK:
            raise AuthenticationFailed(f"Login refused, Status {response.status}")
        expected = smgp_authenticator_server(0, request.authenticator_client, self.password)
        if response.authenticator_server != expected:
            raise AuthenticationFailed("AuthenticatorServer does not prove the shared secret")

    def keepalive_request(self) -> p.ActiveTest:
        return p.ActiveTest()

    def unbind_request(self) -> p.Exit:
        return p.Exit()

    def submits(self, msg: OutMessage) -> list[p.Submit]:
        return build_submits(msg)

    def verdict(self, response: Any) -> Verdict:
        if not isinstance(response, p.SubmitResp):
            return Verdict(FAILED, reason=f"unexpected answer {type(response).__name__}")
        if response.status == p.STATUS_OK:
            return Verdict(OK, response.msg_id.hex())
        if response.status == p.STATUS_SYSTEM_BUSY:
            return Verdict(THROTTLED, reason="system busy (Status 1)")
        return Verdict(FAILED, reason=f"SMGP Submit_Resp Status {response.status}")

    def answer(self, request: Any) -> Answer:
        seq = request.sequence
        if isinstance(request, p.Deliver):
            resp = p.DeliverResp(sequence=seq, msg_id=request.msg_id, status=0)
            if request.is_report:
                receipt = parse_receipt(request.msg_content, fixed_id_len=10)
                report = Inbound("report", request.src_term_id, request.dest_term_id,
                                 message_id=receipt.message_id.hex(), stat=receipt.stat,
                                 delivered=receipt.delivered)  # fmt: skip
                return Answer(resp, report=report)
            part = part_of(request.src_term_id, request.dest_term_id, request.msg_format,
                           request.msg_content, request.tlvs, request.msg_id.hex())  # fmt: skip
            return Answer(resp, part=part)
        if isinstance(request, p.ActiveTest):
            return Answer(p.ActiveTestResp(sequence=seq))
        if isinstance(request, p.Exit):
            return Answer(p.ExitResp(sequence=seq), close=True)
        return Answer()

    def reject(self, raw: bytes, error: Exception) -> Any | None:
        return reject(raw)


def reject(raw: bytes) -> Any | None:
    """Status 10 (bad structure) to a malformed Submit/Deliver."""
    if len(raw) < p.HEADER_SIZE:
        return None
    command_id = int.from_bytes(raw[4:8], "big")
    seq = int.from_bytes(raw[8:12], "big")
    if command_id == p.Submit.command_id:
        return p.SubmitResp(sequence=seq, msg_id=b"\0" * 10, status=p.STATUS_BAD_STRUCTURE)
    if command_id == p.Deliver.command_id:
        return p.DeliverResp(sequence=seq, msg_id=b"\0" * 10, status=p.STATUS_BAD_STRUCTURE)
    return None
