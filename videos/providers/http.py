"""HTTP plumbing shared by the provider modules: the session factory and streaming downloads.

`new_session` is the one place a provider gets its `requests` session, so tests can put a
fake upstream behind every provider at once. Its connections to the configured upstream hosts
(MINIMAX_BASE_URL, USEAPI_BASE_URL, ...: an operator's choice, the sandbox in development) go
as they are; every other host, i.e. the links an upstream hands out (result videos, posters,
covers), is reached only at public addresses, each redirect hop checked again
(portal.safe_http), so an upstream answer cannot make a worker fetch an internal address.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter

from portal import instruments, netguard
from portal.safe_http import CheckedAddressAdapter
from videos.providers.base import ResultStream
from videos.providers.errors import (
    AmbiguousCreate,
    PermanentError,
    TransientError,
    UpstreamError,
)

CHUNK = 256 * 1024


MAX_REDIRECTS = 5


def _configured_hosts() -> set[str]:
    urls = (settings.MINIMAX_BASE_URL, settings.MINIMAX_CN_BASE_URL, settings.USEAPI_BASE_URL)
    return {host for url in urls if (host := urlsplit(url).hostname)}


class _UpstreamAdapter(HTTPAdapter):
    """Configured upstream hosts as they are; any other host through the address check."""

    def __init__(self, trusted: set[str]):
        super().__init__()
        self.trusted = trusted
        self.checked = CheckedAddressAdapter()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if urlsplit(request.url or "").hostname in self.trusted:
            return super().send(request, **kwargs)
        return self.checked.send(request, **kwargs)

    def close(self) -> None:
        super().close()
        self.checked.close()


def new_session() -> requests.Session:
    session = requests.Session()
    # No proxies from the environment: a proxy would make the connection (and the lookup)
    # for us, out of reach of the address check.
    session.trust_env = False
    session.max_redirects = MAX_REDIRECTS
    adapter = _UpstreamAdapter(_configured_hosts())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextmanager
def observed(provider: str) -> Iterator[None]:
    """Time one upstream call and count its outcome (/metrics): `ok`, or the code of the
    error it raised. Each provider's one calling method runs inside it."""
    start = time.monotonic()
    code = "ok"
    try:
        yield
    except UpstreamError as exc:
        code = exc.code[:40]
        raise
    except BaseException:
        code = "error"
        raise
    finally:
        instruments.UPSTREAM_SECONDS.labels(provider).observe(time.monotonic() - start)
        instruments.UPSTREAM_CALLS.labels(provider, code).inc()


def network_error(error: requests.RequestException, *, create: bool, name: str) -> UpstreamError:
    """A call that got no answer. For a create it matters whether the request may have gone
    out: no upstream here has an idempotency key, so a create that may have arrived is
    ambiguous (the caller looks for its task before creating another), never a plain retry."""
    if isinstance(error, requests.Timeout) and not isinstance(error, requests.ConnectTimeout):
        if create:
            return AmbiguousCreate("timeout", f"{name} did not answer the create in time.")
        return TransientError("timeout", f"{name} did not answer in time.")
    if not create or nothing_sent(error):
        return TransientError("connection", f"{name} could not be reached.")
    return AmbiguousCreate("connection", f"The connection to {name} broke during the create.")


def nothing_sent(error: requests.RequestException) -> bool:
    """True when the request surely never left (connect, TLS, proxy or URL failure)."""
    if isinstance(
        error,
        requests.ConnectTimeout
        | requests.exceptions.SSLError
        | requests.exceptions.ProxyError
        | requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return True
    reason: object = error.args[0] if error.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    # NameResolutionError is a NewConnectionError; both mean no connection was made.
    return isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    )


def _host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """`allowed` holds host names, or ".example.com" for a domain and its subdomains."""
    host = host.lower().rstrip(".")
    return any(
        host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed
    )


def _get(
    session: requests.Session, url: str, *, timeout: tuple[float, float], what: str
) -> requests.Response:
    try:
        return session.get(url, stream=True, timeout=timeout, allow_redirects=False)
    except netguard.UnsafeUrlError:
        raise PermanentError(
            "unsafe_url", f"The upstream pointed at a {what} on a private address."
        ) from None
    except requests.Timeout:
        raise TransientError("timeout", f"The {what} download timed out.") from None
    except requests.RequestException:
        # Connection refused or reset, a URL requests cannot use ...
        raise TransientError("connection", f"The {what} host could not be reached.") from None


def open_download(
    session: requests.Session,
    url: str,
    *,
    timeout: tuple[float, float],
    what: str = "video",
    allowed_hosts: Sequence[str] = (),
) -> ResultStream:
    """A streaming GET of a file the upstream links to (a signed CDN URL: no Authorization).

    `allowed_hosts` (a provider's RESULT_HOSTS setting): where its links may point; empty,
    any public host (the address check applies either way). The configured upstream hosts are
    always allowed. Every failure is transient but a refused address: an expired link
    (401/403/404/410) is asked for again by re-querying the task, anything else may simply
    work next time.
    """
    for _hop in range(MAX_REDIRECTS + 1):
        if not url.startswith(("https://", "http://")):
            raise TransientError("no_url", f"The upstream gave no {what} URL.")
        host = urlsplit(url).hostname or ""
        trusted = host in _configured_hosts() or _host_allowed(host, allowed_hosts)
        if allowed_hosts and not trusted:
            raise PermanentError(
                "unsafe_url", f"The upstream pointed at a {what} on a host it does not use."
            )
        response = _get(session, url, timeout=timeout, what=what)
        if response.status_code not in (301, 302, 303, 307, 308):
            break
        # Each hop is checked again: its host here, its addresses by the session's adapter.
        url = requests.compat.urljoin(url, response.headers.get("Location", ""))
        response.close()
    else:
        raise TransientError("redirects", f"The {what} link redirected too often.")
    if response.status_code in (401, 403, 404, 410):
        response.close()
        raise TransientError(
            f"http_{response.status_code}", f"The {what} link has expired; asking again."
        )
    if response.status_code != 200:
        response.close()
        raise TransientError(
            f"http_{response.status_code}",
            f"The {what} host answered HTTP {response.status_code}.",
        )
    length = response.headers.get("Content-Length", "")
    return ResultStream(
        content_type=response.headers.get("Content-Type", "").split(";")[0].strip(),
        length=int(length) if length.isascii() and length.isdigit() else None,
        chunks=response.iter_content(CHUNK),
        close=response.close,
    )
