"""Chaos mode (opt-in): transient faults on a share of upstream calls, and messy pushes.

Off unless ``SandboxServer(chaos=...)`` (or ``python -m sandbox --chaos``) sets a rate above 0;
then every call to a faultable endpoint is faulted with that probability. What a fault looks
like depends on the endpoint (each one a way the real upstreams are known to fail, FACTS.md):

- MiniMax create: ``base_resp`` 1000, 1001, 1033 or (rarely: see ``rate_limits``) 1002; HTTP
  502 from a gateway (nothing made); or ``late``: the task is made, and the answer leaves only
  after ``late_seconds``, past a client's timeout (an ambiguous create).
- MiniMax query and files/retrieve: 1000, 1001, 1033, or HTTP 502.
- useapi ``POST files/``: HTTP 502 or 596. ``GET videos/{id}``: 502 or 596.
- useapi agent-create: HTTP 502 (nothing made), 429 with ``Retry-After``, ``cut`` (the video is
  made, the event stream drops before it names the video) or ``late`` (the video is made, the
  stream stays silent for ``late_seconds`` first).
- pushes (MiniMax callbacks, useapi replyUrl posts): each is duplicated with the same
  probability (the copy arrives a moment later), and a task's pushes are reordered with it
  (MiniMax: the "processing" push arrives after the final one; useapi: a stale "processing"
  post follows the final one).

Listings, accounts, templates, cancel, the challenge and file downloads are never faulted.

Decisions are deterministic: a hash of the seed, the endpoint, the request's identity (the
task or video id, the job reference, or a digest of the body) and how many times that
identity has called, so a run with the same seed and the same calls faults the same ones,
whatever the threads' interleaving. No identity is faulted more than ``max_run`` times in a
row, so a client that retries always gets through (identities leave the key out: a client
may retry with another key). Keys with the ``nochaos`` directive are
never faulted (bait jobs of a test, say).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RATE_LIMIT_CODE = 1002


@dataclass(frozen=True)
class Fault:
    kind: str  # "code" (a base_resp code), "http" (an HTTP status), "late", "cut"
    code: int = 0

    @property
    def name(self) -> str:
        return f"{self.kind}{self.code}" if self.code else self.kind


MINIMAX_CREATE: tuple[Fault, ...] = (
    Fault("code", 1000),
    Fault("code", 1001),
    Fault("code", 1033),
    Fault("code", RATE_LIMIT_CODE),
    Fault("http", 502),
    Fault("late"),
)
MINIMAX_QUERY: tuple[Fault, ...] = (
    Fault("code", 1000),
    Fault("code", 1001),
    Fault("code", 1033),
    Fault("http", 502),
)
USEAPI_UPLOAD: tuple[Fault, ...] = (Fault("http", 502), Fault("http", 596))
USEAPI_CREATE: tuple[Fault, ...] = (
    Fault("http", 502),
    Fault("http", 429),
    Fault("cut"),
    Fault("late"),
)
USEAPI_VIDEO: tuple[Fault, ...] = (Fault("http", 502), Fault("http", 596))


class GatewayError(Exception):
    """A gateway in front of the MiniMax flavour answered ``status`` (HTML, not base_resp)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"HTTP {status}")


def digest(*parts: str | bytes) -> str:
    """A short stable identity for a request without a better one (its body, say)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:24]


class Chaos:
    """The fault oracle and its tally; thread-safe. ``rate=0`` turns every decision off."""

    def __init__(
        self,
        rate: float = 0.0,
        seed: int = 0,
        *,
        max_run: int = 2,
        rate_limits: int = 1,
        late_seconds: float = 3.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("chaos rate must be between 0 and 1")
        self.rate = rate
        self.seed = seed
        self.max_run = max_run
        # A MiniMax 1002 makes a client rest the key for a minute or so: a few go a long way.
        self.rate_limits = rate_limits
        self.late_seconds = late_seconds
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._runs: Counter[tuple[str, str]] = Counter()
        self._tally: Counter[str] = Counter()
        self._rate_limits_left = rate_limits

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _draw(self, *parts: object) -> float:
        text = ":".join(str(p) for p in (self.seed, *parts))
        return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / float(16**12)

    def fault(self, endpoint: str, identity: str, menu: Sequence[Fault]) -> Fault | None:
        """The fault this call gets, or None; counts the call either way."""
        if not self.enabled or not menu:
            return None
        key = (endpoint, identity)
        with self._lock:
            self._calls[key] += 1
            number = self._calls[key]
            self._tally[f"{endpoint}.calls"] += 1
            spared = self._draw(endpoint, identity, number) >= self.rate
            if spared or self._runs[key] >= self.max_run:
                self._runs[key] = 0
                return None
            start = int(self._draw("kind", endpoint, identity, number) * len(menu))
            chosen = None
            for offset in range(len(menu)):
                candidate = menu[(start + offset) % len(menu)]
                if candidate.kind == "code" and candidate.code == RATE_LIMIT_CODE:
                    if self._rate_limits_left <= 0:
                        continue
                    self._rate_limits_left -= 1
                chosen = candidate
                break
            if chosen is None:
                self._runs[key] = 0
                return None
            self._runs[key] += 1
            self._tally[f"{endpoint}.{chosen.name}"] += 1
            self._tally["faults"] += 1
            return chosen

    def chance(self, what: str, identity: str) -> bool:
        """A yes/no draw (a push duplicated, pushes reordered), tallied when yes."""
        if not self.enabled:
            return False
        yes = self._draw(what, identity) < self.rate
        if yes:
            with self._lock:
                self._tally[what] += 1
        return yes

    def offset(self, what: str, identity: str, low: float, high: float) -> float:
        """A deterministic delay between ``low`` and ``high`` seconds."""
        return low + (high - low) * self._draw("offset", what, identity)

    def note(self, what: str) -> None:
        with self._lock:
            self._tally[what] += 1

    def stats(self) -> dict[str, Any]:
        """``rate``, ``seed``, ``calls`` (faultable calls seen), ``faults`` and one count per
        ``<endpoint>.<fault>``, ``<endpoint>.calls`` and push mishap (``*.duplicate``,
        ``*.reorder`` when planned, ``*.delivered_duplicate`` ... when sent)."""
        with self._lock:
            tally = dict(self._tally)
        calls = sum(v for k, v in tally.items() if k.endswith(".calls"))
        return {
            "rate": self.rate,
            "seed": self.seed,
            "calls": calls,
            "faults": tally.pop("faults", 0),
            **dict(sorted(tally.items())),
        }

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._runs.clear()
            self._tally.clear()
            self._rate_limits_left = self.rate_limits
