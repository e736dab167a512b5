"""Login authenticators and timestamps of the Chinese carrier protocols.

CMPP (both versions) and SMGP prove the shared secret the same way: an MD5 over the account,
a run of NUL octets, the secret and the login timestamp; the gateway proves it knows the
secret too by hashing the status it answers with the client's authenticator.
"""

from __future__ import annotations

import hashlib
from datetime import datetime


def timestamp(now: datetime | None = None) -> int:
    """MMDDHHMMSS as the integer both specs put in the login PDU (e.g. 1021080510)."""
    return int((now or datetime.now()).strftime("%m%d%H%M%S"))


def _ts_text(ts: int) -> bytes:
    # The hash takes the 10-digit text, zero-padded on the left (January gives "01...").
    return f"{ts:010d}".encode("ascii")


def cmpp_authenticator_source(source_addr: str, secret: str, ts: int) -> bytes:
    """CMPP AuthenticatorSource = MD5(Source_Addr + 9×0x00 + secret + timestamp)."""
    data = source_addr.encode("ascii") + b"\0" * 9 + secret.encode("ascii") + _ts_text(ts)
    return hashlib.md5(data).digest()


def cmpp_authenticator_ismg(status: int, auth_source: bytes, secret: str, version: int) -> bytes:
    """CMPP AuthenticatorISMG = MD5(Status + AuthenticatorSource + secret).

    Status is hashed at its wire width: 1 octet in CMPP 2.0, 4 octets in CMPP 3.0.
    """
    width = 1 if version < 0x30 else 4
    return hashlib.md5(status.to_bytes(width, "big") + auth_source + secret.encode()).digest()


def smgp_authenticator_client(client_id: str, secret: str, ts: int) -> bytes:
    """SMGP AuthenticatorClient = MD5(ClientID + 7×0x00 + secret + timestamp)."""
    data = client_id.encode("ascii") + b"\0" * 7 + secret.encode("ascii") + _ts_text(ts)
    return hashlib.md5(data).digest()


def smgp_authenticator_server(status: int, auth_client: bytes, secret: str) -> bytes:
    """SMGP AuthenticatorServer = MD5(Status(4 octets) + AuthenticatorClient + secret)."""
    return hashlib.md5(status.to_bytes(4, "big") + auth_client + secret.encode()).digest()
