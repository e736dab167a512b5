"""Builds the protocol client for one configured link."""

from __future__ import annotations

from typing import Any

from kefu.channels.sms.config import SmsLink
from kefu.protocols import cmpp, smgp, smpp
from kefu.protocols.client import CarrierClient
from kefu.protocols.sgip import SgipClient


def make_client(link: SmsLink, **kw: Any) -> CarrierClient:
    options: dict[str, Any] = {"window": link.window, "max_tps": link.max_tps, **kw}
    if link.protocol == "smpp":
        return smpp.client(link.host, link.port, link.username, link.password, **options)
    if link.protocol in ("cmpp2", "cmpp3"):
        version = int(link.protocol[-1])
        return cmpp.client(
            link.host, link.port, link.username, link.password, version=version, **options
        )
    if link.protocol == "sgip":
        return SgipClient(link.host, link.port, link.username, link.password,
                          listen_port=link.listen_port, **options)  # fmt: skip
    return smgp.client(link.host, link.port, link.username, link.password, **options)
