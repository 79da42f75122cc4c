"""Where the server's own outbound requests may go: fetched image URLs and webhooks.

A caller chooses those URLs, so they must not become a way to probe or call services that only
the server can reach. Public addresses are allowed; loopback, private, link-local, multicast,
reserved and unspecified ones are not, also when hidden inside IPv6 transition addresses
(IPv4-mapped, 6to4, Teredo, NAT64), unless the operator allows a network that holds them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import httpx

from sightline.settings import IPNetwork

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64:
            # A translator's address stands for the IPv4 host it carries, public or not
            # (Python calls the whole prefix non-global).
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded: list[ipaddress.IPv4Address | None] = [address.ipv4_mapped, address.sixtofour]
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if any(inner is not None and not is_public(inner) for inner in embedded):
            return False
        if address.is_site_local:
            return False
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        return False
    return address.is_global


class AddressPolicy:
    """Public addresses, and those inside the operator's allowed networks."""

    def __init__(self, allowed: Iterable[IPNetwork] = ()) -> None:
        self.allowed = tuple(allowed)

    def allows(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # the same IPv4 host, on a dual-stack socket
        if any(
            address.version == network.version and address in network for network in self.allowed
        ):
            return True
        return is_public(address)


def parse_http_url(url: str) -> httpx.URL:
    """`url` as an absolute http(s) URL, or ValueError saying what is wrong with it."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"Not a valid URL: {exc}.") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("The URL must be absolute and use http or https.")
    return parsed
