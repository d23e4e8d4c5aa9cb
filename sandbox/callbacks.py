"""Outgoing callback traffic: the challenge handshake and the status pushes.

Redirects are not followed (the real upstream documents none, and a push that silently turns into
a GET would hide a misconfigured receiver), and environment proxies are ignored so that pushes to
localhost receivers work on machines with HTTP_PROXY set.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sandbox")

_MAX_REPLY_BYTES = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx answer


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post_json(url: str, payload: dict[str, Any], timeout: float) -> bytes:
    """POST ``payload`` as JSON; return the reply body or raise (URLError, timeout, HTTPError)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme restricted to http(s) above
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "MiniMaxSandbox/1.0"},
        method="POST",
    )
    with _opener.open(request, timeout=timeout) as reply:
        return reply.read(_MAX_REPLY_BYTES)


def verify_challenge(url: str, timeout: float) -> bool:
    """Send ``{"challenge": ...}`` and require the same value echoed back as JSON."""
    challenge = secrets.token_urlsafe(24)
    try:
        reply = json.loads(post_json(url, {"challenge": challenge}, timeout))
    except Exception as exc:  # any network or decoding problem fails verification
        log.info("callback verification of %s failed: %s", url, exc)
        return False
    return isinstance(reply, dict) and reply.get("challenge") == challenge


class PushScheduler:
    """One thread delivering due pushes in order, from a heap guarded by a Condition.

    Pushes are delivered one at a time on purpose: a task's "processing" push can then never
    overtake its final push, whatever the receiver's latency (chaos mode reorders them by
    scheduling, on purpose).
    """

    def __init__(self, deliver: Callable[[str, str], None]) -> None:
        self._deliver = deliver
        self._heap: list[tuple[float, int, str, str]] = []
        self._seq = itertools.count()  # tie-breaker keeps scheduling order for equal due times
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-pushes", daemon=True)
        self._thread.start()

    def schedule(self, due_monotonic: float, task_id: str, event: str) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due_monotonic, next(self._seq), task_id, event))
            self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def pending(self) -> int:
        """How many deliveries are scheduled and not started yet."""
        with self._cond:
            return len(self._heap)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, task_id, event = heapq.heappop(self._heap)
            try:
                self._deliver(task_id, event)
            except Exception:  # a broken push must never kill the scheduler
                log.exception("push %s for task %s crashed", event, task_id)
