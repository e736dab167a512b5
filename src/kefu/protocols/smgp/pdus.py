"""SMGP 3.0 PDUs (China Telecom) and their codec.

Header: PacketLength, RequestID, SequenceID (4 octets each). Submit and Deliver end with
TLVs (tag and length 2 octets each) for the 3.0 extensions (TP_udhi, PkTotal, LinkID ...).
Message ids are 10 octets: SMGW code (3 BCD), MMDDHHMM (4 BCD), sequence (3 BCD).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from ..errors import BadLength, ProtocolError, TruncatedPDU, UnknownCommand
from ..fields import U8, U32, Counted, Fixed, LenBytes, Raw, TLVs, decode_body, encode_body, f

HEADER = struct.Struct(">III")
HEADER_SIZE = 12
MAX_PDU = 4096

VERSION_3 = 0x30
RESPONSE_BIT = 0x80000000

LOGIN_SEND = 0
LOGIN_RECEIVE = 1
LOGIN_TRANSMIT = 2

# Status values (SMGP 3.0)
STATUS_OK = 0
STATUS_SYSTEM_BUSY = 1  # 系统忙: the throttling answer
STATUS_TOO_MANY_CONNECTIONS = 2
STATUS_BAD_STRUCTURE = 10
STATUS_BAD_COMMAND = 11
STATUS_DUP_SEQUENCE = 12
STATUS_AUTH_FAILED = 21
STATUS_VERSION_TOO_HIGH = 22
STATUS_BAD_LENGTH = 36

# TLV tags (SMGP 3.0)
TAG_TP_PID = 0x0001
TAG_TP_UDHI = 0x0002
TAG_LINK_ID = 0x0003
TAG_PK_TOTAL = 0x0009
TAG_PK_NUMBER = 0x000A
TAG_SUBMIT_MSG_TYPE = 0x000B
TAG_SRC_TERM_TYPE = 0x000D
TAG_MSG_SRC = 0x0010


@dataclass(kw_only=True)
class SmgpPdu:
    command_id: ClassVar[int]
    sequence: int = 0


@dataclass(kw_only=True)
class Login(SmgpPdu):
    command_id: ClassVar[int] = 0x00000001
    client_id: str = f(Fixed(8))
    authenticator_client: bytes = f(Raw(16))
    login_mode: int = f(U8)
    timestamp: int = f(U32)
    client_version: int = f(U8)


@dataclass(kw_only=True)
class LoginResp(SmgpPdu):
    command_id: ClassVar[int] = 0x80000001
    status: int = f(U32)
    authenticator_server: bytes = f(Raw(16))
    server_version: int = f(U8)


@dataclass(kw_only=True)
class Submit(SmgpPdu):
    command_id: ClassVar[int] = 0x00000002
    msg_type: int = f(U8)
    need_report: int = f(U8)
    priority: int = f(U8)
    service_id: str = f(Fixed(10))
    fee_type: str = f(Fixed(2))
    fee_code: str = f(Fixed(6))
    fixed_fee: str = f(Fixed(6))
    msg_format: int = f(U8)
    valid_time: str = f(Fixed(17))
    at_time: str = f(Fixed(17))
    src_term_id: str = f(Fixed(21))
    charge_term_id: str = f(Fixed(21))
    dest_term_ids: list[str] = f(Counted(U8, Fixed(21), 100))
    msg_content: bytes = f(LenBytes(U8, 252))
    reserve: str = f(Fixed(8))
    tlvs: dict[int, bytes] = f(TLVs())


@dataclass(kw_only=True)
class SubmitResp(SmgpPdu):
    command_id: ClassVar[int] = 0x80000002
    msg_id: bytes = f(Raw(10))
    status: int = f(U32)


@dataclass(kw_only=True)
class Deliver(SmgpPdu):
    command_id: ClassVar[int] = 0x00000003
    msg_id: bytes = f(Raw(10))
    is_report: int = f(U8)
    msg_format: int = f(U8)
    recv_time: str = f(Fixed(14))
    src_term_id: str = f(Fixed(21))
    dest_term_id: str = f(Fixed(21))
    msg_content: bytes = f(LenBytes(U8, 252))
    reserve: str = f(Fixed(8))
    tlvs: dict[int, bytes] = f(TLVs())


@dataclass(kw_only=True)
class DeliverResp(SmgpPdu):
    command_id: ClassVar[int] = 0x80000003
    msg_id: bytes = f(Raw(10))
    status: int = f(U32)


@dataclass(kw_only=True)
class ActiveTest(SmgpPdu):
    command_id: ClassVar[int] = 0x00000004


@dataclass(kw_only=True)
class ActiveTestResp(SmgpPdu):
    command_id: ClassVar[int] = 0x80000004


@dataclass(kw_only=True)
class Exit(SmgpPdu):
    command_id: ClassVar[int] = 0x00000006


@dataclass(kw_only=True)
class ExitResp(SmgpPdu):
    command_id: ClassVar[int] = 0x80000006


@dataclass(kw_only=True)
class Query(SmgpPdu):
    command_id: ClassVar[int] = 0x00000007
    time: str = f(Fixed(8))
    query_type: int = f(U8)
    query_code: str = f(Fixed(10))


@dataclass(kw_only=True)
class QueryResp(SmgpPdu):
    command_id: ClassVar[int] = 0x80000007
    time: str = f(Fixed(8))
    query_type: int = f(U8)
    query_code: str = f(Fixed(10))
    mt_tl_msg: int = f(U32)
    mt_tl_usr: int = f(U32)
    mt_scs: int = f(U32)
    mt_wt: int = f(U32)
    mt_fl: int = f(U32)
    mo_scs: int = f(U32)
    mo_wt: int = f(U32)
    mo_fl: int = f(U32)


PDU_CLASSES: dict[int, type[SmgpPdu]] = {
    cls.command_id: cls
    for cls in (
        Login,
        LoginResp,
        Submit,
        SubmitResp,
        Deliver,
        DeliverResp,
        ActiveTest,
        ActiveTestResp,
        Exit,
        ExitResp,
        Query,
        QueryResp,
    )
}


def encode(pdu: SmgpPdu) -> bytes:
    body = bytearray(HEADER_SIZE)
    encode_body(pdu, body)
    HEADER.pack_into(body, 0, len(body), pdu.command_id, pdu.sequence)
    return bytes(body)


def decode(data: bytes) -> SmgpPdu:
    if len(data) < HEADER_SIZE:
        raise TruncatedPDU(f"SMGP header needs {HEADER_SIZE} octets, got {len(data)}")
    length, command_id, sequence = HEADER.unpack_from(data, 0)
    if length != len(data):
        raise BadLength(f"PacketLength {length} but {len(data)} octets supplied")
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        raise UnknownCommand(command_id, sequence)
    try:
        values = decode_body(cls, data, HEADER_SIZE, length)
    except ProtocolError as exc:
        exc.sequence = sequence  # type: ignore[attr-defined]
        raise
    return cls(sequence=sequence, **values)
