"""The one door for outgoing webhook HTTP: explicit timeouts, no redirects, checked addresses
(portal.safe_http opens every connection).

The receiver's answer is its status code; its body is never read or stored: a log that
showed what came back would read internal pages back to whoever chose the URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from django.conf import settings

from portal import netguard
from portal.safe_http import new_session

USER_AGENT = "VideoAgentPortal-Webhooks/1"


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    latency_ms: int
    error: str = ""
    # The failure is the portal's own (it could not sign): it says nothing of the receiver,
    # so it does not count against the endpoint's health (integrations.health).
    ours: bool = False


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
