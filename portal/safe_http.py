"""Outgoing HTTP to addresses someone else chose (webhook receivers, image URLs): explicit
timeouts, no proxies, and connections only to addresses portal.netguard approved.

Every connection resolves the host once, refuses it unless every answer is a public address
and connects to exactly the addresses it checked, so a DNS answer that changes between the
check and the connect (rebinding) cannot reach 127.0.0.1 or the metadata service. The URL's
host name is left alone: it is still the Host header, the TLS SNI name and the name the
certificate is checked against.
"""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING, cast

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

from portal import netguard


class _CheckedAddressMixin:
    """urllib3 connection whose socket goes only to the addresses netguard approved.

    Overrides urllib3 2.x `HTTPConnection._new_conn`, the one place that opens the socket
    (HTTPSConnection.connect wraps TLS around what it returns, using `self.host`).
    """

    if TYPE_CHECKING:  # provided by urllib3's HTTPConnection, which this is mixed into
        host: str
        _dns_host: str
        port: int
        timeout: float | None
        source_address: tuple[str, int] | None
        socket_options: list[tuple[int, int, int | bytes]] | None

    def _new_conn(self) -> socket.socket:
        conn = cast(HTTPConnection, self)
        host = self.host  # without a trailing dot; `_dns_host` keeps it for the lookup
        try:
            infos = socket.getaddrinfo(
                self._dns_host, self.port, allowed_gai_family(), socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise NameResolutionError(host, conn, exc) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not settings.WEBHOOK_ALLOW_PRIVATE:
            netguard.check_addresses(host, addresses)  # raises UnsafeUrlError
        error: OSError | None = None
        for address in addresses:
            try:
                # A numeric address: create_connection parses it, no second DNS lookup.
                sock = create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                error = exc
                continue
            sys.audit("http.client.connect", self, host, self.port)
            return sock
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(
                conn, f"Connection to {host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error


class _CheckedHTTPConnection(_CheckedAddressMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedAddressMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAddressAdapter(HTTPAdapter):
    """A requests adapter whose connections are opened by _CheckedAddressMixin."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


def new_session() -> requests.Session:
    session = requests.Session()
    # No proxies from the environment: a proxy would make the connection (and the lookup)
    # for us, out of reach of the address check.
    session.trust_env = False
    adapter = CheckedAddressAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
