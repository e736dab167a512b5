"""Typed errors raised by the protocol codecs and clients.

Every malformed input surfaces as a :class:`ProtocolError` subclass so that a server can
answer with the protocol's own error status (generic_nack, Result=1, ...) instead of dying.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base for anything wrong on the wire."""


class TruncatedPDU(ProtocolError):
    """The body ended before a field it declares."""


class BadLength(ProtocolError):
    """A length field disagrees with the data or is out of the allowed range."""


class PDUTooLarge(BadLength):
    """The declared PDU length exceeds the configured maximum (guards allocation)."""


class UnknownCommand(ProtocolError):
    """The command id is not one this protocol version defines."""

    def __init__(self, command_id: int, sequence: int = 0) -> None:
        super().__init__(f"unknown command id 0x{command_id:08x}")
        self.command_id = command_id
        self.sequence = sequence


class BadEncoding(ProtocolError):
    """A text field holds bytes that its declared encoding cannot decode."""


class FieldTooLong(ProtocolError):
    """An outgoing value does not fit its field (raised when encoding)."""


class AuthenticationFailed(ProtocolError):
    """The peer rejected our credentials, or we rejected theirs."""
