"""CMPP 2.0 / 3.0: codec (:mod:`.pdus`), Msg_Id (:mod:`.ids`), client link, ISMG simulator."""

from __future__ import annotations

from ..client import CarrierClient
from .link import CmppLink
from .simulator import CmppSimulator


def client(
    host: str, port: int, sp_id: str, secret: str, version: int = 3, **kw: object
) -> CarrierClient:
    """A CMPP client with the spec's default window of 16."""
    return CarrierClient(CmppLink(sp_id, secret, version), host, port, **kw)  # type: ignore[arg-type]


__all__ = ["CmppLink", "CmppSimulator", "client"]
