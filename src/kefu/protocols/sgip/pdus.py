"""SGIP 1.2 PDUs (China Unicom) and their codec.

Header: Message Length, Command ID (4 octets each) and a 12-octet sequence number made of
the sender's node id, an MMDDHHMMSS timestamp and a counter. A report names the submit it
describes by that sequence number, so it doubles as SGIP's message id.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from ..errors import BadLength, ProtocolError, TruncatedPDU, UnknownCommand
from ..fields import U8, U32, Counted, Fixed, LenBytes, Triple, decode_body, encode_body, f

HEADER = struct.Struct(">IIIII")
HEADER_SIZE = 20
MAX_PDU = 8192  # Submit with 100 users and a 160-octet message is ~2.4 kB

RESPONSE_BIT = 0x80000000

LOGIN_SP_TO_SMG = 1
LOGIN_SMG_TO_SP = 2

# Result codes (SGIP 1.2)
RESULT_OK = 0
RESULT_BAD_LOGIN = 1
RESULT_DUP_LOGIN = 2
RESULT_TOO_MANY_CONNECTIONS = 3
RESULT_BAD_LOGIN_TYPE = 4
RESULT_BAD_FORMAT = 5
RESULT_BAD_NUMBER = 6
RESULT_BAD_MESSAGE_ID = 7
RESULT_BAD_LENGTH = 8
RESULT_BAD_SEQUENCE = 9
RESULT_BAD_GNS = 10
RESULT_NODE_BUSY = 11  # 节点忙: the throttling answer

Sequence = tuple[int, int, int]


@dataclass(kw_only=True)
class SgipPdu:
    command_id: ClassVar[int]
    sequence: Sequence = (0, 0, 0)


@dataclass(kw_only=True)
class Bind(SgipPdu):
    command_id: ClassVar[int] = 0x1
    login_type: int = f(U8)
    login_name: str = f(Fixed(16))
    login_password: str = f(Fixed(16))
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class _Resp(SgipPdu):
    result: int = f(U8)
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class BindResp(_Resp):
    command_id: ClassVar[int] = 0x80000001


@dataclass(kw_only=True)
class Unbind(SgipPdu):
    command_id: ClassVar[int] = 0x2


@dataclass(kw_only=True)
class UnbindResp(SgipPdu):
    command_id: ClassVar[int] = 0x80000002


@dataclass(kw_only=True)
class Submit(SgipPdu):
    command_id: ClassVar[int] = 0x3
    sp_number: str = f(Fixed(21))
    charge_number: str = f(Fixed(21))
    user_numbers: list[str] = f(Counted(U8, Fixed(21), 100))
    corp_id: str = f(Fixed(5))
    service_type: str = f(Fixed(10))
    fee_type: int = f(U8)
    fee_value: str = f(Fixed(6))
    given_value: str = f(Fixed(6))
    agent_flag: int = f(U8)
    morelateto_mt_flag: int = f(U8)
    priority: int = f(U8)
    expire_time: str = f(Fixed(16))
    schedule_time: str = f(Fixed(16))
    report_flag: int = f(U8)
    tp_pid: int = f(U8)
    tp_udhi: int = f(U8)
    message_coding: int = f(U8)
    message_type: int = f(U8)
    message_content: bytes = f(LenBytes(U32, 160))
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class SubmitResp(_Resp):
    command_id: ClassVar[int] = 0x80000003


@dataclass(kw_only=True)
class Deliver(SgipPdu):
    command_id: ClassVar[int] = 0x4
    user_number: str = f(Fixed(21))
    sp_number: str = f(Fixed(21))
    tp_pid: int = f(U8)
    tp_udhi: int = f(U8)
    message_coding: int = f(U8)
    message_content: bytes = f(LenBytes(U32, 160))
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class DeliverResp(_Resp):
    command_id: ClassVar[int] = 0x80000004


@dataclass(kw_only=True)
class Report(SgipPdu):
    command_id: ClassVar[int] = 0x5
    submit_sequence: Sequence = f(Triple())
    report_type: int = f(U8)
    user_number: str = f(Fixed(21))
    state: int = f(U8)  # 0 delivered, 1 waiting, 2 failed
    error_code: int = f(U8)
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class ReportResp(_Resp):
    command_id: ClassVar[int] = 0x80000005


PDU_CLASSES: dict[int, type[SgipPdu]] = {
    cls.command_id: cls
    for cls in (
        Bind,
        BindResp,
        Unbind,
        UnbindResp,
        Submit,
        SubmitResp,
        Deliver,
        DeliverResp,
        Report,
        ReportResp,
    )
}


def encode(pdu: SgipPdu) -> bytes:
    body = bytearray(HEADER_SIZE)
    encode_body(pdu, body)
    HEADER.pack_into(body, 0, len(body), pdu.command_id, *pdu.sequence)
    return bytes(body)


def decode(data: bytes) -> SgipPdu:
    if len(data) < HEADER_SIZE:
        raise TruncatedPDU(f"SGIP header needs {HEADER_SIZE} octets, got {len(data)}")
    length, command_id, node, stamp, counter = HEADER.unpack_from(data, 0)
    if length != len(data):
        raise BadLength(f"Message Length {length} but {len(data)} octets supplied")
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        raise UnknownCommand(command_id, counter)
    try:
        values = decode_body(cls, data, HEADER_SIZE, length)
    except ProtocolError as exc:
        exc.sequence = (node, stamp, counter)  # type: ignore[attr-defined]
        raise
    return cls(sequence=(node, stamp, counter), **values)
