"""SMGP 3.0: codec (:mod:`.pdus`), MsgID (:mod:`.ids`), client link, SMGW simulator."""

from __future__ import annotations

from ..client import CarrierClient
from .link import SmgpLink
from .simulator import SmgpSimulator


def client(host: str, port: int, client_id: str, secret: str, **kw: object) -> CarrierClient:
    """An SMGP client with the spec's default window of 16."""
    return CarrierClient(SmgpLink(client_id, secret), host, port, **kw)  # type: ignore[arg-type]


__all__ = ["SmgpLink", "SmgpSimulator", "client"]
