"""CMPP 2.0 and 3.0 PDUs (China Mobile) and their codec.

Header: Total_Length, Command_Id, Sequence_Id (4 octets each). The two versions differ in
status/result width (1 vs 4 octets), terminal id width (21 vs 32 octets), the terminal-type
octets and LinkID (3.0) versus Reserve (2.0); each difference is a separate class so the
field tables read like the spec.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import BadLength, ProtocolError, TruncatedPDU, UnknownCommand
from ..fields import U8, U32, U64, Counted, Fixed, LenBytes, Raw, decode_body, encode_body, f

HEADER = struct.Struct(">III")
HEADER_SIZE = 12
MAX_PDU = 4096  # the largest CMPP PDU (submit to 100 users of 32 octets) is ~3.5 kB

VERSION_2 = 0x20
VERSION_3 = 0x30

RESPONSE_BIT = 0x80000000

# Submit_Resp Result values (CMPP 3.0)
RESULT_OK = 0
RESULT_BAD_STRUCTURE = 1
RESULT_BAD_COMMAND = 2
RESULT_DUP_SEQUENCE = 3
RESULT_BAD_LENGTH = 4
RESULT_FEE_CODE = 5
RESULT_TOO_LONG = 6
RESULT_SERVICE_CODE = 7
RESULT_FLOW_CONTROL = 8  # 流量控制错: the throttling answer

# Connect_Resp Status values
CONNECT_OK = 0
CONNECT_BAD_STRUCTURE = 1
CONNECT_BAD_SOURCE = 2
CONNECT_AUTH_FAILED = 3
CONNECT_VERSION_TOO_HIGH = 4
CONNECT_OTHER_ERROR = 5  # 其他错误: what a version below 2.0 gets


@dataclass(kw_only=True)
class CmppPdu:
    command_id: ClassVar[int]
    sequence: int = 0


@dataclass(kw_only=True)
class Connect(CmppPdu):
    command_id: ClassVar[int] = 0x00000001
    source_addr: str = f(Fixed(6))
    authenticator_source: bytes = f(Raw(16))
    version: int = f(U8)
    timestamp: int = f(U32)


@dataclass(kw_only=True)
class ConnectRespV2(CmppPdu):
    command_id: ClassVar[int] = 0x80000001
    status: int = f(U8)
    authenticator_ismg: bytes = f(Raw(16))
    version: int = f(U8)


@dataclass(kw_only=True)
class ConnectRespV3(CmppPdu):
    command_id: ClassVar[int] = 0x80000001
    status: int = f(U32)
    authenticator_ismg: bytes = f(Raw(16))
    version: int = f(U8)


@dataclass(kw_only=True)
class Terminate(CmppPdu):
    command_id: ClassVar[int] = 0x00000002


@dataclass(kw_only=True)
class TerminateResp(CmppPdu):
    command_id: ClassVar[int] = 0x80000002


@dataclass(kw_only=True)
class SubmitV2(CmppPdu):
    command_id: ClassVar[int] = 0x00000004
    msg_id: int = f(U64)
    pk_total: int = f(U8)
    pk_number: int = f(U8)
    registered_delivery: int = f(U8)
    msg_level: int = f(U8)
    service_id: str = f(Fixed(10))
    fee_user_type: int = f(U8)
    fee_terminal_id: str = f(Fixed(21))
    tp_pid: int = f(U8)
    tp_udhi: int = f(U8)
    msg_fmt: int = f(U8)
    msg_src: str = f(Fixed(6))
    fee_type: str = f(Fixed(2))
    fee_code: str = f(Fixed(6))
    valid_time: str = f(Fixed(17))
    at_time: str = f(Fixed(17))
    src_id: str = f(Fixed(21))
    dest_terminal_ids: list[str] = f(Counted(U8, Fixed(21), 100))
    msg_content: bytes = f(LenBytes(U8, 160))
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class SubmitV3(CmppPdu):
    command_id: ClassVar[int] = 0x00000004
    msg_id: int = f(U64)
    pk_total: int = f(U8)
    pk_number: int = f(U8)
    registered_delivery: int = f(U8)
    msg_level: int = f(U8)
    service_id: str = f(Fixed(10))
    fee_user_type: int = f(U8)
    fee_terminal_id: str = f(Fixed(32))
    fee_terminal_type: int = f(U8)
    tp_pid: int = f(U8)
    tp_udhi: int = f(U8)
    msg_fmt: int = f(U8)
    msg_src: str = f(Fixed(6))
    fee_type: str = f(Fixed(2))
    fee_code: str = f(Fixed(6))
    valid_time: str = f(Fixed(17))
    at_time: str = f(Fixed(17))
    src_id: str = f(Fixed(21))
    dest_terminal_ids: list[str] = f(Counted(U8, Fixed(32), 100))
    dest_terminal_type: int = f(U8)
    msg_content: bytes = f(LenBytes(U8, 160))
    link_id: str = f(Fixed(20))


@dataclass(kw_only=True)
class SubmitRespV2(CmppPdu):
    command_id: ClassVar[int] = 0x80000004
    msg_id: int = f(U64)
    result: int = f(U8)


@dataclass(kw_only=True)
class SubmitRespV3(CmppPdu):
    command_id: ClassVar[int] = 0x80000004
    msg_id: int = f(U64)
    result: int = f(U32)


@dataclass(kw_only=True)
class DeliverV2(CmppPdu):
    command_id: ClassVar[int] = 0x00000005
    msg_id: int = f(U64)
    dest_id: str = f(Fixed(21))
    service_id: str = f(Fixed(10))
    tp_pid: int = f(U8)
    tp_udhi: int = f(U8)
    msg_fmt: int = f(U8)
    src_terminal_id: str = f(Fixed(21))
    registered_delivery: int = f(U8)
    msg_content: bytes = f(LenBytes(U8, 160))
    reserved: str = f(Fixed(8))


@dataclass(kw_only=True)
class DeliverV3(CmppPdu):
    command_id: ClassVar[int] = 0x00000005
    msg_id: int = f(U64)
    dest_id: str = f(Fixed(21))
    service_id: str = f(Fixed(10))
    tp_pid: int = f(U8)
    tp_udhi: int = f(U8)
    msg_fmt: int = f(U8)
    src_terminal_id: str = f(Fixed(32))
    src_terminal_type: int = f(U8)
    registered_delivery: int = f(U8)
    msg_content: bytes = f(LenBytes(U8, 160))
    link_id: str = f(Fixed(20))


@dataclass(kw_only=True)
class DeliverRespV2(CmppPdu):
    command_id: ClassVar[int] = 0x80000005
    msg_id: int = f(U64)
    result: int = f(U8)


@dataclass(kw_only=True)
class DeliverRespV3(CmppPdu):
    command_id: ClassVar[int] = 0x80000005
    msg_id: int = f(U64)
    result: int = f(U32)


@dataclass(kw_only=True)
class Query(CmppPdu):
    command_id: ClassVar[int] = 0x00000006
    time: str = f(Fixed(8))
    query_type: int = f(U8)
    query_code: str = f(Fixed(10))
    reserve: str = f(Fixed(8))


@dataclass(kw_only=True)
class QueryResp(CmppPdu):
    command_id: ClassVar[int] = 0x80000006
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


@dataclass(kw_only=True)
class Cancel(CmppPdu):
    command_id: ClassVar[int] = 0x00000007
    msg_id: int = f(U64)


@dataclass(kw_only=True)
class CancelRespV2(CmppPdu):
    command_id: ClassVar[int] = 0x80000007
    success_id: int = f(U8)


@dataclass(kw_only=True)
class CancelRespV3(CmppPdu):
    command_id: ClassVar[int] = 0x80000007
    success_id: int = f(U32)


@dataclass(kw_only=True)
class ActiveTest(CmppPdu):
    command_id: ClassVar[int] = 0x00000008


@dataclass(kw_only=True)
class ActiveTestResp(CmppPdu):
    command_id: ClassVar[int] = 0x80000008
    reserved: int = f(U8)


@dataclass(kw_only=True)
class ReportV2:
    """Status report carried in Deliver.Msg_Content when Registered_Delivery is 1."""

    msg_id: int = f(U64)
    stat: str = f(Fixed(7))
    submit_time: str = f(Fixed(10))
    done_time: str = f(Fixed(10))
    dest_terminal_id: str = f(Fixed(21))
    smsc_sequence: int = f(U32)


@dataclass(kw_only=True)
class ReportV3:
    msg_id: int = f(U64)
    stat: str = f(Fixed(7))
    submit_time: str = f(Fixed(10))
    done_time: str = f(Fixed(10))
    dest_terminal_id: str = f(Fixed(32))
    smsc_sequence: int = f(U32)


_COMMON = (Connect, Terminate, TerminateResp, Query, QueryResp, Cancel, ActiveTest, ActiveTestResp)


@dataclass(frozen=True)
class Dialect:
    """The class set of one CMPP version; clients and servers pick their PDUs from here."""

    version: int
    terminal_size: int
    connect_resp: type[CmppPdu]
    submit: type[CmppPdu]
    submit_resp: type[CmppPdu]
    deliver: type[CmppPdu]
    deliver_resp: type[CmppPdu]
    cancel_resp: type[CmppPdu]
    report: type

    @property
    def classes(self) -> dict[int, type[CmppPdu]]:
        own = (
            self.connect_resp,
            self.submit,
            self.submit_resp,
            self.deliver,
            self.deliver_resp,
            self.cancel_resp,
        )
        return {cls.command_id: cls for cls in (*_COMMON, *own)}

    def encode(self, pdu: CmppPdu) -> bytes:
        return encode(pdu)

    def decode(self, data: bytes) -> CmppPdu:
        return decode(data, self._table)

    @property
    def _table(self) -> dict[int, type[CmppPdu]]:
        table = _TABLES.get(self.version)
        if table is None:
            table = _TABLES[self.version] = self.classes
        return table

    def encode_report(self, report: Any) -> bytes:
        out = bytearray()
        encode_body(report, out)
        return bytes(out)

    def decode_report(self, data: bytes) -> Any:
        return self.report(**decode_body(self.report, data, 0, len(data)))


_TABLES: dict[int, dict[int, type[CmppPdu]]] = {}

CMPP2 = Dialect(
    VERSION_2, 21, ConnectRespV2, SubmitV2, SubmitRespV2, DeliverV2, DeliverRespV2, CancelRespV2,
    ReportV2,
)  # fmt: skip
CMPP3 = Dialect(
    VERSION_3, 32, ConnectRespV3, SubmitV3, SubmitRespV3, DeliverV3, DeliverRespV3, CancelRespV3,
    ReportV3,
)  # fmt: skip


def encode(pdu: CmppPdu) -> bytes:
    body = bytearray(HEADER_SIZE)
    encode_body(pdu, body)
    HEADER.pack_into(body, 0, len(body), pdu.command_id, pdu.sequence)
    return bytes(body)


def decode(data: bytes, table: dict[int, type[CmppPdu]]) -> CmppPdu:
    if len(data) < HEADER_SIZE:
        raise TruncatedPDU(f"CMPP header needs {HEADER_SIZE} octets, got {len(data)}")
    length, command_id, sequence = HEADER.unpack_from(data, 0)
    if length != len(data):
        raise BadLength(f"Total_Length {length} but {len(data)} octets supplied")
    cls = table.get(command_id)
    if cls is None:
        raise UnknownCommand(command_id, sequence)
    try:
        values = decode_body(cls, data, HEADER_SIZE, length)
    except ProtocolError as exc:
        exc.sequence = sequence  # type: ignore[attr-defined]
        raise
    return cls(sequence=sequence, **values)
