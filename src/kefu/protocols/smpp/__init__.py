"""SMPP 3.4: codec (:mod:`.pdus`), client link (:class:`SmppLink`), SMSC simulator."""

from __future__ import annotations

from ..client import CarrierClient
from .link import SmppLink
from .simulator import SmppSimulator


def client(host: str, port: int, system_id: str, password: str, **kw: object) -> CarrierClient:
    """An SMPP transceiver client with the spec's default window of 10."""
    return CarrierClient(SmppLink(system_id, password), host, port, **kw)  # type: ignore[arg-type]


__all__ = ["SmppLink", "SmppSimulator", "client"]
