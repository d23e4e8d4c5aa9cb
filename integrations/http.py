"""The one door for outgoing webhook HTTP: explicit timeouts, no redirects, checked addresses.

Every connection resolves the host once, refuses it unless every answer is a public address
(integrations.netguard) and connects to exactly the addresses it checked, so a DNS answer
that changes between the check and the connect (rebinding) cannot reach 127.0.0.1 or the
metadata service. The URL's host name is left alone: it is still the Host header, the TLS
SNI name and the name the certificate is checked against.

The receiver's answer is its status code; its body is never read or stored: a log that
showed what came back would read internal pages back to whoever chose the URL.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

from integrations import netguard

USER_AGENT = "VideoAgentPortal-Webhooks/1"


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    latency_ms: int
    error: str = ""


class _CheckedAddressMixin:
    """urllib3 connection whose socket goes only to the addresses netguard approved.

    Overrides urllib3 2.x `HTTPConnection._new_conn`, the one place that opens the socket
    (HTTPSConnection.connect wraps TLS around what it returns, using `self.host`).
    """

    def _new_conn(self) -> socket.socket:
        host = self.host  # without a trailing dot; `_dns_host` keeps it for the lookup
        try:
            infos = socket.getaddrinfo(
                self._dns_host, self.port, allowed_gai_family(), socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise NameResolutionError(host, self, exc) from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
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
                self, f"Connection to {host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


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


def post(url: str, *, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST once; a network error or a refused address is a result, never an exception."""
    started = time.monotonic()
    session = new_session()
    try:
        try:
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
                timeout=settings.WEBHOOK_TIMEOUT,
                # A 3xx is the receiver's answer, not an instruction: following it could lead
                # the signed payload (or the request) somewhere the address check never saw.
                allow_redirects=False,
                # Only the status line and headers are read; closing drops the body unread.
                stream=True,
            )
        except netguard.UnsafeUrlError as exc:
            return PostResult(None, latency_ms=_since(started), error=f"refused: {exc}")
        except requests.RequestException as exc:
            return PostResult(None, latency_ms=_since(started), error=_describe(exc))
        response.close()
    finally:
        session.close()
    return PostResult(status_code=response.status_code, latency_ms=_since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(exc: requests.RequestException) -> str:
    # requests' messages repeat the whole URL (query strings may hold the client's tokens):
    # the type of failure is what the delivery log needs.
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    return f"request failed ({type(exc).__name__})"
