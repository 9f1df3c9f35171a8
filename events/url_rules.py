"""Which URLs an endpoint may have, and the address a delivery connects to (no SSRF, no DNS rebinding).

In production (``EVENT_WEBHOOK_STRICT_URLS``) a URL must be ``https`` and
every address its host resolves to must be public: loopback, private,
link-local, shared (CGNAT), reserved, multicast and cloud metadata addresses
are refused unless ``EVENT_WEBHOOK_ALLOWED_NETWORKS`` lists them. The check
runs when the endpoint is registered (400 ``url_not_allowed``) and again at
every delivery, where the worker connects to the very address it checked
(``delivery_target``), with the URL's host in the ``Host`` header and as the
TLS server name: a name that resolves to a public address at registration and
to 127.0.0.1 later never reaches 127.0.0.1. Development allows every address
and ``http``.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings

from core.problems import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services. 169.254.169.254 and fd00:ec2::254 are link-local or private already; Alibaba's
# 100.100.100.200 sits in the shared range; Azure's wire server 168.63.129.16 is a public address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)


class UrlNotAllowed(InvalidInput):
    code = "url_not_allowed"
    title = "URL not allowed"


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the checked address to connect to, and the URL's host for Host and SNI."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def strict() -> bool:
    return bool(settings.EVENT_WEBHOOK_STRICT_URLS)


@cache
def _allowed_networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_allowed(address: IPAddress) -> bool:
    """Whether a delivery may connect to ``address`` under the production rules."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks(tuple(settings.EVENT_WEBHOOK_ALLOWED_NETWORKS))):
        return True
    return address not in METADATA_ADDRESSES and address.is_global and not address.is_multicast


def host_of(url: str) -> str:
    """The URL's host, for logs (never the path or query, which may carry a token)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _parse(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlNotAllowed("The URL cannot be parsed.", errors={"url": ["Not a valid URL."]}) from exc
    schemes = {"https"} if strict() else {"http", "https"}
    if parts.scheme not in schemes:
        raise UrlNotAllowed(
            f"The URL must use {' or '.join(sorted(schemes))}.",
            errors={"url": [f"Use {' or '.join(sorted(schemes))}."]},
        )
    if not parts.hostname:
        raise UrlNotAllowed("The URL has no host.", errors={"url": ["The URL has no host."]})
    if parts.username or parts.password:
        raise UrlNotAllowed(
            "Credentials in the URL are not allowed.",
            errors={"url": ["Remove the user name and password from the URL."]},
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _checked_addresses(host: str, port: int) -> list[IPAddress]:
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UrlNotAllowed(
            f"The host {host} does not resolve.", errors={"url": ["The host does not resolve."]}
        ) from exc
    if not addresses:
        raise UrlNotAllowed(f"The host {host} does not resolve.", errors={"url": ["The host does not resolve."]})
    if strict():
        refused = [str(address) for address in addresses if not address_allowed(address)]
        if refused:
            raise UrlNotAllowed(
                f"The host {host} resolves to an address that is not allowed ({', '.join(refused)}): loopback, "
                "private, link-local and metadata addresses are refused.",
                errors={"url": ["The URL points to a loopback, private, link-local or metadata address."]},
            )
    return addresses


def url_check(url: str) -> None:
    """Raise ``UrlNotAllowed`` (400 ``url_not_allowed``) unless an endpoint may have this URL."""
    _, host, port, _ = _parse(url)
    if strict():
        _checked_addresses(host, port)


def delivery_target(url: str) -> Target:
    """The URL's parts and the checked address a delivery connects to; ``UrlNotAllowed`` when there is none."""
    scheme, host, port, path = _parse(url)
    address = _checked_addresses(host, port)[0]
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(address))
