"""SGIP 1.2 links, for both directions.

SGIP is asymmetric: the SP connects to the SMG to submit (login type 1), and the SMG
connects to the SP's own listener to deliver MO messages and reports (login type 2). The
same link class serves both outbound directions; :mod:`.receiver` is the SP's listener.
"""

from __future__ import annotations

import time
from typing import Any

from ..cmpp.link import ENCODINGS, FMT_OF, encoding_of
from ..errors import AuthenticationFailed
from ..link import FAILED, OK, THROTTLED, Answer, Link, Verdict
from ..message import Inbound, OutMessage, Part, part_from_payload, segments
from . import pdus as p

REPORT_STATES = {0: "DELIVRD", 1: "ACCEPTD", 2: "UNDELIV"}


def sequence_text(seq: tuple[int, int, int]) -> str:
    """SGIP message id: the submit's sequence number, node-time-counter."""
    return f"{seq[0]}-{seq[1]:010d}-{seq[2]}"


def build_submits(msg: OutMessage, corp_id: str = "") -> list[p.Submit]:
    return [
        p.Submit(
            sp_number=msg.source,
            user_numbers=[msg.dest],
            corp_id=corp_id,
            agent_flag=0,
            morelateto_mt_flag=2,
            report_flag=1 if msg.want_report else 2,
            tp_udhi=int(seg.udhi),
            message_coding=FMT_OF[seg.encoding],
            message_type=0,
            message_content=seg.payload,
        )  # fmt: skip
        for seg in segments(msg, ENCODINGS)
    ]


def deliver_part(pdu: p.Deliver) -> Part:
    return part_from_payload(
        pdu.user_number, pdu.sp_number, encoding_of(pdu.message_coding), pdu.message_content,
        bool(pdu.tp_udhi), sequence_text(pdu.sequence),
    )  # fmt: skip


def report_inbound(pdu: p.Report) -> Inbound:
    stat = REPORT_STATES.get(pdu.state, "UNKNOWN")
    return Inbound("report", pdu.user_number, "", message_id=sequence_text(pdu.submit_sequence),
                   stat=stat, delivered=pdu.state == 0)  # fmt: skip


class SgipLink(Link):
    name = "sgip"
    header_size = p.HEADER_SIZE
    max_pdu = p.MAX_PDU
    default_window = 32
    encodings = ENCODINGS
    encode = staticmethod(p.encode)
    decode = staticmethod(p.decode)

    def __init__(
        self, username: str, password: str, node_id: int = 3000000001, corp_id: str = "",
        login_type: int = p.LOGIN_SP_TO_SMG,
    ) -> None:  # fmt: skip
        super().__init__(username, password)
        self.node_id = node_id
        self.corp_id = corp_id
        self.login_type = login_type
        self._stamp_second = -1
        self._stamp_value = 0

    def next_sequence(self) -> tuple[int, int, int]:
        counter = super().next_sequence()
        return (self.node_id, self._stamp(), counter)

    def _stamp(self) -> int:
        """MMDDHHMMSS in local time, formatted once per second (not once per PDU)."""
        now = int(time.time())
        if now != self._stamp_second:
            t = time.localtime(now)
            self._stamp_value = (
                t.tm_mon * 10**8 + t.tm_mday * 10**6 + t.tm_hour * 10**4 + t.tm_min * 100 + t.tm_sec
            )
            self._stamp_second = now
        return self._stamp_value

    def is_response(self, pdu: Any) -> bool:
        return bool(pdu.command_id & p.RESPONSE_BIT)

    def bind_request(self) -> p.Bind:
        return p.Bind(login_type=self.login_type, login_name=self.username,
                      login_password=self.password)  # fmt: skip

    def check_bind(self, response: Any, request: Any) -> None:
        if not isinstance(response, p.BindResp) or response.result != p.RESULT_OK:
            raise AuthenticationFailed(f"SGIP Bind refused: {response!r}")

    def keepalive_request(self) -> None:
        return None  # SGIP has no keep-alive PDU; an idle link is simply unbound

    def unbind_request(self) -> p.Unbind:
        return p.Unbind()

    def submits(self, msg: OutMessage) -> list[p.Submit]:
        return build_submits(msg, self.corp_id)

    def verdict(self, response: Any) -> Verdict:
        if not isinstance(response, p.SubmitResp):
            return Verdict(FAILED, reason=f"unexpected answer {type(response).__name__}")
        if response.result == p.RESULT_OK:
            return Verdict(OK, sequence_text(response.sequence))
        if response.result == p.RESULT_NODE_BUSY:
            return Verdict(THROTTLED, reason="node busy (Result 11)")
        return Verdict(FAILED, reason=f"SGIP Submit_Resp Result {response.result}")

    def answer(self, request: Any) -> Answer:
        seq = request.sequence
        if isinstance(request, p.Deliver):
            return Answer(p.DeliverResp(sequence=seq), part=deliver_part(request))
        if isinstance(request, p.Report):
            return Answer(p.ReportResp(sequence=seq), report=report_inbound(request))
        if isinstance(request, p.Unbind):
            return Answer(p.UnbindResp(sequence=seq), close=True)
        return Answer()

    def reject(self, raw: bytes, error: Exception) -> Any | None:
        return reject(raw)


_RESP_OF = {p.Bind.command_id: p.BindResp, p.Submit.command_id: p.SubmitResp,
            p.Deliver.command_id: p.DeliverResp, p.Report.command_id: p.ReportResp}  # fmt: skip


def reject(raw: bytes) -> Any | None:
    """Result 5 (bad format) to a malformed request that has a Result field."""
    if len(raw) < p.HEADER_SIZE:
        return None
    resp = _RESP_OF.get(int.from_bytes(raw[4:8], "big"))
    if resp is None:
        return None
    seq = (int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big"),
           int.from_bytes(raw[16:20], "big"))  # fmt: skip
    return resp(sequence=seq, result=p.RESULT_BAD_FORMAT)
