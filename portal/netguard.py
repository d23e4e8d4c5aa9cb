"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses.

A callback URL is chosen by the API caller, so without this check the portal would POST
wherever it is told: its own admin on 127.0.0.1, the cloud metadata service on
169.254.169.254, a database on 10.x. Every resolved address is checked at job creation
(check_url, to answer the caller at once) and, what actually protects us, at connect time:
portal.safe_http resolves the host once, checks every answer with check_addresses and
connects to exactly the addresses it checked. A separate check followed by a second lookup
would not do: a zero-TTL name can answer a public address to the check and 127.0.0.1 to the
connect (DNS rebinding). WEBHOOK_ALLOW_PRIVATE turns the address check off for tests and
local demos.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 1024


class UnsafeUrlError(ValueError):
    """The URL is not an acceptable webhook target; the message says why (no secrets in it)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (tests replace this to stay off the network)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


# IPv6 forms that carry an IPv4 address a router or the kernel may reach for them: NAT64
# (64:ff9b::/96, and the local-use 64:ff9b:1::/48) and 6to4 (2002::/16). They are "global"
# to ipaddress, so the IPv4 inside decides.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_6TO4 = ipaddress.ip_network("2002::/16")
# IPv4-compatible addresses (::a.b.c.d, deprecated but still parsed and routed by some stacks).
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:  # ::ffff:127.0.0.1
        return ip.ipv4_mapped
    if ip.sixtofour:  # 2002:7f00:1::
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # the low 32 bits
    return None


def _is_public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]  # drop an IPv6 zone id
    )
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            ip = inner  # [::127.0.0.1], 64:ff9b::7f00:1 and 2002:7f00:1:: are loopback too
        elif ip in _6TO4 or any(ip in net for net in _NAT64):
            return False
    # is_global is False for private, loopback, link-local, shared (100.64/10), reserved...
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> None:
    """Raise UnsafeUrlError unless the URL is an http(s) URL of a public host."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrlError(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrlError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrlError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise UnsafeUrlError("must not contain a user name or password")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeUrlError("must not contain spaces or control characters")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise UnsafeUrlError(f"the host {parts.hostname!r} does not resolve") from None
    check_addresses(parts.hostname, addresses)


def check_addresses(host: str, addresses: list[str]) -> None:
    """Raise UnsafeUrlError unless there are addresses and every one of them is public."""
    if not addresses:
        raise UnsafeUrlError(f"the host {host!r} does not resolve")
    for address in addresses:
        if not _is_public(address):
            raise UnsafeUrlError(
                f"the host {host!r} resolves to a private, loopback or link-local "
                "address; webhooks only go to public addresses"
            )
