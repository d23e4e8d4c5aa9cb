"""The one door for outgoing webhook HTTP: explicit timeouts, no redirects, bounded reads."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from django.conf import settings

USER_AGENT = "VideoAgentPortal-Webhooks/1"
# Enough of the receiver's answer to debug with in the delivery log, never a whole page.
RESPONSE_EXCERPT_BYTES = 500


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    latency_ms: int
    error: str = ""
    response_excerpt: str = ""


def new_session() -> requests.Session:
    session = requests.Session()
    # No proxies from the environment: the address check in netguard must be about the host
    # we actually connect to.
    session.trust_env = False
    return session


def post(url: str, *, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST once; a network error is a result (status_code None), never an exception."""
    started = time.monotonic()
    session = new_session()
    try:
        response = session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=settings.WEBHOOK_TIMEOUT,
            # A 3xx is the receiver's answer, not an instruction: following it could lead the
            # signed payload (or the request) somewhere the address check never saw.
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        return PostResult(status_code=None, latency_ms=_since(started), error=_describe(exc))
    try:
        excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True) or b""
    except Exception:  # a broken body does not change the status the receiver sent
        excerpt = b""
    finally:
        response.close()
        session.close()
    return PostResult(
        status_code=response.status_code,
        latency_ms=_since(started),
        response_excerpt=excerpt.decode("utf-8", "replace"),
    )


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
