"""What the generic client and simulator need to know about one protocol.

A :class:`Link` is a small strategy object: it builds the protocol's PDUs for binding,
keep-alive, submitting and unbinding, interprets responses, and answers requests the peer
sends (deliveries, keep-alives, unbinds). The async machinery in ``client.py`` and
``simulator.py`` is written once against this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from .message import Inbound, OutMessage, Part

OK, THROTTLED, FAILED = "ok", "throttled", "failed"


@dataclass(frozen=True)
class Verdict:
    """How the peer answered one submit."""

    status: str  # OK, THROTTLED or FAILED
    message_id: str = ""
    reason: str = ""


@dataclass
class Answer:
    """What to do with a request the peer sent us."""

    response: Any | None = None
    part: Part | None = None  # a (possibly partial) mobile-originated message
    report: Inbound | None = None  # a status report
    close: bool = False  # the peer unbound


class Link(ABC):
    """Protocol strategy shared by clients (ESME/SP side)."""

    name: str
    header_size: int
    max_pdu: int
    default_window: int
    encodings: tuple[str, ...]

    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._seq = 0

    def next_sequence(self) -> Any:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    @staticmethod
    def key(pdu: Any) -> Hashable:
        return pdu.sequence

    @abstractmethod
    def is_response(self, pdu: Any) -> bool: ...

    @abstractmethod
    def bind_request(self) -> Any: ...

    @abstractmethod
    def check_bind(self, response: Any, request: Any) -> None:
        """Raise AuthenticationFailed unless the response accepts the bind."""

    @abstractmethod
    def keepalive_request(self) -> Any | None: ...

    @abstractmethod
    def unbind_request(self) -> Any | None: ...

    @abstractmethod
    def submits(self, msg: OutMessage) -> list[Any]: ...

    @abstractmethod
    def verdict(self, response: Any) -> Verdict: ...

    @abstractmethod
    def answer(self, request: Any) -> Answer: ...

    def reject(self, raw: bytes, error: Exception) -> Any | None:
        """A response to a request we could not decode (generic_nack, Result=1 ...)."""
        return None
