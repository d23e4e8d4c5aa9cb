"""The load client: a fixed number of keep-alive HTTP/1.1 connections, one thread each.

Standard library only (http.client), run from the harness's own process, never the server's.
Each connection sends its next request as soon as the answer is read (a closed loop), so the
throughput is what the server sustains at that concurrency; latencies are per request.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    expect: tuple[int, ...] = (200,)


# A request maker: (connection number, request number on it) -> the request.
Maker = Callable[[int, int], Req]


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    statuses: dict[str, int]
    latencies: list[float]  # seconds, of the answers with an expected status
    first_error: str = ""

    @property
    def rps(self) -> float:
        ok = len(self.latencies)
        return ok / self.seconds if self.seconds > 0 else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 2),
            "p50_ms": round(self.pct(50) * 1000, 2),
            "p90_ms": round(self.pct(90) * 1000, 2),
            "p99_ms": round(self.pct(99) * 1000, 2),
            "max_ms": round(max(self.latencies, default=0.0) * 1000, 2),
            "statuses": self.statuses,
            "first_error": self.first_error,
        }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and range of a list of ratios or times."""
    clean = [v for v in values if v == v]  # drop NaN
    if not clean:
        nan = float("nan")
        return {"median": nan, "q1": nan, "q3": nan, "min": nan, "max": nan, "n": 0}
    if len(clean) >= 2:
        q1, _, q3 = statistics.quantiles(clean, n=4, method="inclusive")
    else:
        q1 = q3 = clean[0]
    return {
        "median": statistics.median(clean),
        "q1": q1,
        "q3": q3,
        "min": min(clean),
        "max": max(clean),
        "n": len(clean),
    }


class _Worker(threading.Thread):
    def __init__(self, host: str, port: int, index: int, maker: Maker, stop: _Stop, timeout: float):
        super().__init__(daemon=True)
        self.host, self.port, self.index, self.maker, self.stop = host, port, index, maker, stop
        self.timeout = timeout
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.errors = 0
        self.first_error = ""
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def run(self) -> None:
        seq = 0
        self.stop.ready.wait()
        while self.stop.more():
            req = self.maker(self.index, seq)
            seq += 1
            headers = {"Host": f"127.0.0.1:{self.port}", **req.headers}
            started = time.perf_counter()
            try:
                conn = self._connect()
                conn.request(req.method, req.path, body=req.body, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - started
                if resp.will_close:
                    self._drop()
            except (OSError, http.client.HTTPException) as exc:
                self.errors += 1
                self.statuses["error"] += 1
                self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"
                self._drop()
                time.sleep(0.05)
                continue
            finally:
                self.stop.count()
            self.statuses[str(resp.status)] += 1
            if resp.status in req.expect:
                self.latencies.append(elapsed)
            else:
                self.errors += 1
                self.first_error = self.first_error or (
                    f"{req.method} {req.path[:60]}: {resp.status} {body[:300]!r}"
                )
        self._drop()


class _Stop:
    """Ends a run at its deadline, or after `max_requests`, but not before `min_requests`."""

    def __init__(self, seconds: float, min_requests: int, max_requests: int | None, cap: float):
        self.seconds, self.min_requests, self.max_requests = seconds, min_requests, max_requests
        self.cap = cap  # a hard limit whatever min_requests says: a slow endpoint ends too
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.started = 0.0

    def begin(self) -> None:
        self.started = time.perf_counter()
        self.ready.set()

    def more(self) -> bool:
        elapsed = time.perf_counter() - self.started
        with self.lock:
            if self.max_requests is not None and self.sent >= self.max_requests:
                return False
            if elapsed >= self.cap:
                return False
            return elapsed < self.seconds or self.sent < self.min_requests

    def count(self) -> None:
        with self.lock:
            self.sent += 1


def run(
    port: int,
    maker: Maker | Req,
    *,
    connections: int = 8,
    seconds: float = 5.0,
    min_requests: int = 0,
    max_requests: int | None = None,
    cap_seconds: float | None = None,
    host: str = "127.0.0.1",
    timeout: float = 120.0,
) -> Result:
    """Load `maker`'s requests over `connections` keep-alive connections for `seconds`."""
    make: Maker = (lambda _c, _s: maker) if isinstance(maker, Req) else maker
    stop = _Stop(seconds, min_requests, max_requests, cap_seconds or max(seconds * 6, 60.0))
    workers = [_Worker(host, port, i, make, stop, timeout) for i in range(connections)]
    for w in workers:
        w.start()
    stop.begin()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - stop.started
    statuses: Counter[str] = Counter()
    for w in workers:
        statuses.update(w.statuses)
    return Result(
        requests=sum(w.statuses.total() for w in workers),
        errors=sum(w.errors for w in workers),
        seconds=elapsed,
        statuses=dict(statuses),
        latencies=[x for w in workers for x in w.latencies],
        first_error=next((w.first_error for w in workers if w.first_error), ""),
    )
