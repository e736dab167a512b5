"""The outbound-URL guard (issue 21, finding 8: SSRF).

Webhooks and partners' status callbacks are URLs that an administrator or a partner types;
kefu then POSTs to them from inside the bank's network. Without a guard, ``http://127.0.0.1:…``,
``http://2130706433:…`` (127.0.0.1 as one decimal number), ``http://0x7f.1/``,
``http://localhost:8200/…``, ``http://[::ffff:127.0.0.1]/`` or ``http://169.254.169.254/``
reach the platform itself, its database admin, or the cloud's metadata service.

``check_url`` refuses a URL unless every address its host stands for is public (Python's
``ipaddress`` ``is_global``: not loopback, private, link-local, shared/CGNAT, unspecified,
reserved, documentation or multicast; IPv4-mapped and 6to4/Teredo IPv6 forms are judged by the
IPv4 inside). Host names are resolved; IP literals are read the way the C resolver reads them
(``inet_aton``: decimal, hex and octal parts, two- and three-part forms), so no spelling
slips through. Deliveries are made with redirects off, so a public URL cannot bounce the
request inward.

``outbound_allow_hosts`` (setting) lists hosts, addresses or CIDR ranges allowed anyway: the
demo and tests, whose receivers listen on loopback.

DNS rebinding: a name checked here and resolved again by the HTTP client could get another
answer the second time. ``pinned`` turns the checked address into the request's target (with
the ``Host`` header and the TLS server name kept), so the connection goes where the check
looked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, HttpUrl, UrlConstraints

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
BLOCKED_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class UnsafeURL(ValueError):
    """The URL may not be called from kefu; the message says why."""


class Unresolvable(UnsafeURL):
    """The host does not resolve now: not sent (the client would resolve it again, and a
    rebinding DNS server could answer then with an inside address); try again later."""


@dataclass(frozen=True)
class OutboundPolicy:
    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default_factory=tuple
    )

    @classmethod
    def from_list(cls, entries: Iterable[str]) -> OutboundPolicy:
        hosts: set[str] = set()
        networks = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_address(self, address: Address) -> bool:
        return any(address in network for network in self.allow_networks)


_policy = OutboundPolicy()


def configure(allow_hosts: Iterable[str]) -> None:
    """Sets the process's allow-list (from ``outbound_allow_hosts``; the app does it at start)."""
    global _policy
    _policy = OutboundPolicy.from_list(allow_hosts)


def policy() -> OutboundPolicy:
    return _policy


def literal_address(host: str) -> Address | None:
    """The address a host literal stands for, in any spelling the resolver accepts, or None
    when it is a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(
        part and (part.isdigit() or part.lower().startswith("0x")) for part in host.split(".")
    ):
        try:  # 2130706433, 0x7f000001, 0177.0.0.1, 127.1: what inet_aton (and curl) accept
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise UnsafeURL(f"url: {host!r} is not a valid address") from None
    return None


def _inner(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                return inner
        if address.teredo is not None:
            return address.teredo[1]
        if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: Address) -> bool:
    inner = _inner(address)
    return inner.is_global and not inner.is_multicast


def _parse(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"url: {exc}") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("url: only http:// and https:// URLs")
    if parts.username or parts.password:
        raise UnsafeURL("url: no user name or password in the URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURL("url: no host")
    return host, port or (443 if parts.scheme == "https" else 80)


def check_static(url: str, policy_: OutboundPolicy | None = None) -> None:
    """What can be judged without DNS: scheme, literal addresses in every spelling, local
    names. For request validation (sync, no network)."""
    rules = policy_ or _policy
    host, _port = _parse(url)
    if host in rules.allow_hosts:
        return
    address = literal_address(host)
    if address is not None:
        if not is_public(address) and not rules.allows_address(address):
            raise UnsafeURL(f"url: {host} is not a public address")
        return
    if host in BLOCKED_NAMES or host.endswith(BLOCKED_SUFFIXES) or "." not in host:
        raise UnsafeURL(f"url: {host!r} is a local name")


async def resolve(host: str, port: int) -> list[Address]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


async def check_url(url: str, policy_: OutboundPolicy | None = None) -> list[Address]:
    """Raises :class:`UnsafeURL` unless every address ``url``'s host resolves to is public (or
    allowed by the policy); returns those addresses (empty for an allow-listed name). A name
    that does not resolve raises :class:`Unresolvable`."""
    rules = policy_ or _policy
    check_static(url, rules)
    host, port = _parse(url)
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    if host in rules.allow_hosts:
        return []
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"url: {host!r} does not resolve ({exc})") from None
    for address in addresses:
        if not is_public(address) and not rules.allows_address(address):
            raise UnsafeURL(f"url: {host!r} resolves to {address}, which is not public")
    return addresses


def pinned(url: str, addresses: list[Address]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request to make so that the connection goes to an address the guard checked, not
    to whatever a second DNS answer says (rebinding): the URL with the address for its host,
    the ``Host`` header, and the TLS server name (certificate checked against the name).
    Returns ``url`` unchanged when there is nothing to pin (a literal or unresolved host)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not addresses or literal_address(host) is not None:
        return url, {}, {}
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = shown + (f":{parts.port}" if parts.port else "")
    target = parts._replace(netloc=netloc).geturl()
    host_header = host + (f":{parts.port}" if parts.port else "")
    extensions: dict[str, Any] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = host
    return target, {"host": host_header}, extensions


def validate_url(value: object) -> object:
    """Pydantic ``AfterValidator`` for request bodies: the static check, as a 422."""
    try:
        check_static(str(value))
    except UnsafeURL as exc:
        raise ValueError(str(exc).removeprefix("url: ")) from None
    return value


# An http(s) URL that passes the static check: a request body field typed with it answers 422
# for loopback, private, link-local and local-name URLs in every spelling. The column that
# stores it (webhooks.url) holds 500 characters; a longer URL was a 500 on PostgreSQL. Pydantic
# adds "/" to a bare host, so the written URL may have 499 and the stored one is checked too.
URL_COLUMN = 500
SafeHttpUrl = Annotated[
    HttpUrl,
    UrlConstraints(max_length=URL_COLUMN - 1),
    AfterValidator(validate_url),
    AfterValidator(lambda url: _fits(url, URL_COLUMN)),
]


def _fits(url: HttpUrl, limit: int) -> HttpUrl:
    if len(str(url)) > limit:
        raise ValueError(f"at most {limit} characters once normalised")
    return url
