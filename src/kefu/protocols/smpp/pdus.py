"""SMPP 3.4 PDUs (the ones an ESME/SMSC pair uses) and their wire codec.

Header: command_length, command_id, command_status, sequence_number (4 octets each).
Field sizes follow SMPP v3.4 §4 (C-Octet string maxima include the terminating NUL).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import BadLength, ProtocolError, TruncatedPDU, UnknownCommand
from ..fields import U8, CStr, LenBytes, TLVs, decode_body, encode_body, f

HEADER = struct.Struct(">IIII")
HEADER_SIZE = 16
MAX_PDU = 64 * 1024  # generous: the largest legal PDU (deliver_sm + TLVs) is far smaller

# command_status values we produce or react to (SMPP 3.4 §5.1.3)
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RSUBMITFAIL = 0x45
ESME_RTHROTTLED = 0x58
ESME_RUNKNOWNERR = 0xFF

# optional parameter tags (§5.3.2)
TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_MESSAGE_STATE = 0x0427
TAG_SC_INTERFACE_VERSION = 0x0210

RESPONSE_BIT = 0x80000000


@dataclass(kw_only=True)
class SmppPdu:
    command_id: ClassVar[int]
    command_status: int = 0
    sequence: int = 0

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)


@dataclass(kw_only=True)
class _Bind(SmppPdu):
    system_id: str = f(CStr(16))
    password: str = f(CStr(9))
    system_type: str = f(CStr(13))
    interface_version: int = f(U8)
    addr_ton: int = f(U8)
    addr_npi: int = f(U8)
    address_range: str = f(CStr(41))


@dataclass(kw_only=True)
class _BindResp(SmppPdu):
    system_id: str = f(CStr(16))
    tlvs: dict[int, bytes] = f(TLVs())


@dataclass(kw_only=True)
class BindTransmitter(_Bind):
    command_id: ClassVar[int] = 0x00000002


@dataclass(kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id: ClassVar[int] = 0x80000002


@dataclass(kw_only=True)
class BindReceiver(_Bind):
    command_id: ClassVar[int] = 0x00000001


@dataclass(kw_only=True)
class BindReceiverResp(_BindResp):
    command_id: ClassVar[int] = 0x80000001


@dataclass(kw_only=True)
class BindTransceiver(_Bind):
    command_id: ClassVar[int] = 0x00000009


@dataclass(kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id: ClassVar[int] = 0x80000009


@dataclass(kw_only=True)
class Outbind(SmppPdu):
    command_id: ClassVar[int] = 0x0000000B
    system_id: str = f(CStr(16))
    password: str = f(CStr(9))


@dataclass(kw_only=True)
class _ShortMessage(SmppPdu):
    """Body shared by submit_sm and deliver_sm (§4.4.1, §4.6.1)."""

    service_type: str = f(CStr(6))
    source_addr_ton: int = f(U8)
    source_addr_npi: int = f(U8)
    source_addr: str = f(CStr(21))
    dest_addr_ton: int = f(U8)
    dest_addr_npi: int = f(U8)
    destination_addr: str = f(CStr(21))
    esm_class: int = f(U8)
    protocol_id: int = f(U8)
    priority_flag: int = f(U8)
    schedule_delivery_time: str = f(CStr(17))
    validity_period: str = f(CStr(17))
    registered_delivery: int = f(U8)
    replace_if_present_flag: int = f(U8)
    data_coding: int = f(U8)
    sm_default_msg_id: int = f(U8)
    short_message: bytes = f(LenBytes(U8, 254))
    tlvs: dict[int, bytes] = f(TLVs())


@dataclass(kw_only=True)
class SubmitSm(_ShortMessage):
    command_id: ClassVar[int] = 0x00000004


@dataclass(kw_only=True)
class SubmitSmResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000004
    message_id: str = f(CStr(65))


@dataclass(kw_only=True)
class DeliverSm(_ShortMessage):
    command_id: ClassVar[int] = 0x00000005


@dataclass(kw_only=True)
class DeliverSmResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000005
    message_id: str = f(CStr(65))


@dataclass(kw_only=True)
class DataSm(SmppPdu):
    command_id: ClassVar[int] = 0x00000103
    service_type: str = f(CStr(6))
    source_addr_ton: int = f(U8)
    source_addr_npi: int = f(U8)
    source_addr: str = f(CStr(65))
    dest_addr_ton: int = f(U8)
    dest_addr_npi: int = f(U8)
    destination_addr: str = f(CStr(65))
    esm_class: int = f(U8)
    registered_delivery: int = f(U8)
    data_coding: int = f(U8)
    tlvs: dict[int, bytes] = f(TLVs())


@dataclass(kw_only=True)
class DataSmResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000103
    message_id: str = f(CStr(65))
    tlvs: dict[int, bytes] = f(TLVs())


@dataclass(kw_only=True)
class QuerySm(SmppPdu):
    command_id: ClassVar[int] = 0x00000003
    message_id: str = f(CStr(65))
    source_addr_ton: int = f(U8)
    source_addr_npi: int = f(U8)
    source_addr: str = f(CStr(21))


@dataclass(kw_only=True)
class QuerySmResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000003
    message_id: str = f(CStr(65))
    final_date: str = f(CStr(17))
    message_state: int = f(U8)
    error_code: int = f(U8)


@dataclass(kw_only=True)
class CancelSm(SmppPdu):
    command_id: ClassVar[int] = 0x00000008
    service_type: str = f(CStr(6))
    message_id: str = f(CStr(65))
    source_addr_ton: int = f(U8)
    source_addr_npi: int = f(U8)
    source_addr: str = f(CStr(21))
    dest_addr_ton: int = f(U8)
    dest_addr_npi: int = f(U8)
    destination_addr: str = f(CStr(21))


@dataclass(kw_only=True)
class CancelSmResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000008


@dataclass(kw_only=True)
class EnquireLink(SmppPdu):
    command_id: ClassVar[int] = 0x00000015


@dataclass(kw_only=True)
class EnquireLinkResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000015


@dataclass(kw_only=True)
class Unbind(SmppPdu):
    command_id: ClassVar[int] = 0x00000006


@dataclass(kw_only=True)
class UnbindResp(SmppPdu):
    command_id: ClassVar[int] = 0x80000006


@dataclass(kw_only=True)
class GenericNack(SmppPdu):
    command_id: ClassVar[int] = 0x80000000


PDU_CLASSES: dict[int, type[SmppPdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        DataSm,
        DataSmResp,
        QuerySm,
        QuerySmResp,
        CancelSm,
        CancelSmResp,
        EnquireLink,
        EnquireLinkResp,
        Unbind,
        UnbindResp,
        GenericNack,
    )
}

# Each request's response class, so a server can answer any request with an error status.
RESPONSE_OF: dict[int, type[SmppPdu]] = {
    cid: PDU_CLASSES[cid | RESPONSE_BIT]
    for cid in PDU_CLASSES
    if not cid & RESPONSE_BIT and cid | RESPONSE_BIT in PDU_CLASSES
}


def encode(pdu: SmppPdu) -> bytes:
    body = bytearray(HEADER_SIZE)
    # An error response (non-zero command_status) carries no body, per SMPP 3.4.
    if not (pdu.is_response and pdu.command_status != ESME_ROK):
        encode_body(pdu, body)
    HEADER.pack_into(body, 0, len(body), pdu.command_id, pdu.command_status, pdu.sequence)
    return bytes(body)


def decode(data: bytes) -> SmppPdu:
    """Decode one complete PDU; raises a :class:`ProtocolError` subclass on any defect."""
    if len(data) < HEADER_SIZE:
        raise TruncatedPDU(f"SMPP header needs {HEADER_SIZE} octets, got {len(data)}")
    length, command_id, status, sequence = HEADER.unpack_from(data, 0)
    if length != len(data):
        raise BadLength(f"command_length {length} but {len(data)} octets supplied")
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        raise UnknownCommand(command_id, sequence)
    values: dict[str, Any]
    if length == HEADER_SIZE and cls.command_id & RESPONSE_BIT:
        values = {}  # error responses (and bodiless ones) may omit the body entirely
    else:
        try:
            values = decode_body(cls, data, HEADER_SIZE, length)
        except ProtocolError as exc:
            exc.sequence = sequence  # type: ignore[attr-defined]
            raise
    return cls(command_status=status, sequence=sequence, **values)
