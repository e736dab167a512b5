"""CMPP 2.0/3.0 client link (SP side)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import text as textcodec
from ..auth import cmpp_authenticator_ismg, cmpp_authenticator_source, timestamp
from ..errors import AuthenticationFailed, ProtocolError
from ..link import FAILED, OK, THROTTLED, Answer, Link, Verdict
from ..message import Inbound, OutMessage, Part, part_from_payload, segments
from . import pdus as p

# Msg_Fmt <-> encoding name
FMT_OF = {textcodec.ASCII: 0, textcodec.UCS2: 8, textcodec.GBK: 15}
ENCODING_OF = {0: textcodec.ASCII, 8: textcodec.UCS2, 15: textcodec.GBK, 4: textcodec.BINARY}
ENCODINGS = (textcodec.ASCII, textcodec.UCS2, textcodec.GBK)


def encoding_of(fmt: int) -> str:
    return ENCODING_OF.get(fmt, textcodec.BINARY)


def mo_part(pdu: Any) -> Part:
    return part_from_payload(
        pdu.src_terminal_id, pdu.dest_id, encoding_of(pdu.msg_fmt), pdu.msg_content,
        bool(pdu.tp_udhi), str(pdu.msg_id),
    )  # fmt: skip


def build_submits(dialect: p.Dialect, msg: OutMessage, sp_id: str) -> list[Any]:
    segs = segments(msg, ENCODINGS)
    return [
        dialect.submit(
            pk_total=len(segs),
            pk_number=i,
            registered_delivery=int(msg.want_report),
            msg_level=1,
            tp_udhi=int(seg.udhi),
            msg_fmt=FMT_OF[seg.encoding],
            msg_src=sp_id,
            src_id=msg.source,
            dest_terminal_ids=[msg.dest],
            msg_content=seg.payload,
            fee_user_type=2,
            fee_type="01",
        )  # fmt: skip
        for i, seg in enumerate(segs, 1)
    ]


class CmppLink(Link):
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    default_window = 16
    encodings = ENCODINGS
    encode = staticmethod(p.encode)

    def __init__(self, username: str, password: str, version: int = 3) -> None:
        super().__init__(username, password)
        self.dialect = p.CMPP3 if version == 3 else p.CMPP2
        self.name = f"cmpp{version}"
        self._other = p.CMPP2 if version == 3 else p.CMPP3

    def decode(self, data: bytes) -> Any:  # type: ignore[override]
        try:
            return self.dialect.decode(data)
        except ProtocolError:
            # An ISMG of the other version answers CMPP_CONNECT in *its* layout (e.g. a 2.0
            # gateway refusing a 3.0 client with Status 4); read it so the refusal is seen.
            if data[4:8] == p.ConnectRespV2.command_id.to_bytes(4, "big"):
                return self._other.decode(data)
            raise

    def is_response(self, pdu: Any) -> bool:
        return bool(pdu.command_id & p.RESPONSE_BIT)

    def bind_request(self, now: datetime | None = None) -> p.Connect:
        ts = timestamp(now)
        auth = cmpp_authenticator_source(self.username, self.password, ts)
        return p.Connect(source_addr=self.username, authenticator_source=auth,
                         version=self.dialect.version, timestamp=ts)  # fmt: skip

    def check_bind(self, response: Any, request: Any) -> None:
        if not isinstance(response, p.ConnectRespV2 | p.ConnectRespV3):
            raise AuthenticationFailed(f"unexpected answer to CMPP_CONNECT: {response!r}")
        if response.status != p.CONNECT_OK:
            raise AuthenticationFailed(f"CMPP_CONNECT refused, Status {response.status}")
        expected = cmpp_authenticator_ismg(
            response.status, request.authenticator_source, self.password, self.dialect.version
        )
        if response.authenticator_ismg != expected:
            raise AuthenticationFailed("AuthenticatorISMG does not prove the shared secret")

    def keepalive_request(self) -> p.ActiveTest:
        return p.ActiveTest()

    def unbind_request(self) -> p.Terminate:
        return p.Terminate()

    def submits(self, msg: OutMessage) -> list[Any]:
        return build_submits(self.dialect, msg, self.username)

    def verdict(self, response: Any) -> Verdict:
        if not isinstance(response, self.dialect.submit_resp):
            return Verdict(FAILED, reason=f"unexpected answer {type(response).__name__}")
        if response.result == p.RESULT_OK:
            return Verdict(OK, str(response.msg_id))
        if response.result == p.RESULT_FLOW_CONTROL:
            return Verdict(THROTTLED, reason="flow control (Result 8)")
        return Verdict(FAILED, reason=f"CMPP_SUBMIT_RESP Result {response.result}")

    def answer(self, request: Any) -> Answer:
        seq = request.sequence
        if isinstance(request, self.dialect.deliver):
            resp = self.dialect.deliver_resp(sequence=seq, msg_id=request.msg_id, result=0)
            if request.registered_delivery:
                rep = self.dialect.decode_report(request.msg_content)
                report = Inbound("report", request.src_terminal_id, request.dest_id,
                                 message_id=str(rep.msg_id), stat=rep.stat,
                                 delivered=rep.stat == "DELIVRD")  # fmt: skip
                return Answer(resp, report=report)
            return Answer(resp, part=mo_part(request))
        if isinstance(request, p.ActiveTest):
            return Answer(p.ActiveTestResp(sequence=seq))
        if isinstance(request, p.Terminate):
            return Answer(p.TerminateResp(sequence=seq), close=True)
        return Answer()

    def reject(self, raw: bytes, error: Exception) -> Any | None:
        return reject(self.dialect, raw)


def reject(dialect: p.Dialect, raw: bytes) -> Any | None:
    """Result=1 (bad structure) to a malformed Submit/Deliver; other PDUs have no error form."""
    if len(raw) < p.HEADER_SIZE:
        return None
    command_id = int.from_bytes(raw[4:8], "big")
    seq = int.from_bytes(raw[8:12], "big")
    if command_id == p.SubmitV2.command_id:
        return dialect.submit_resp(sequence=seq, result=p.RESULT_BAD_STRUCTURE)
    if command_id == p.DeliverV2.command_id:
        return dialect.deliver_resp(sequence=seq, result=p.RESULT_BAD_STRUCTURE)
    return None
