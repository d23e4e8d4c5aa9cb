"""Domain errors of the billing app, mapped to form errors and API answers (HTTP 402)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.errors import DomainError


class QuotaExceededError(DomainError):
    """A submit was refused because the team has reached one of its limits.

    `limit` names the limit: "videos" (monthly video count), "budget" (monthly spend in cents)
    or "concurrency" (jobs in flight at once). `resets_at` is when the limit frees up by itself:
    the start of the next calendar month (UTC) for "videos" and "budget", None for
    "concurrency" (it frees up when a running job finishes).
    """

    status = 402
    code = "quota_exceeded"

    def __init__(self, message: str, *, limit: str, resets_at: datetime | None = None):
        super().__init__(message)
        self.limit = limit
        self.resets_at = resets_at

    def extra(self) -> dict[str, Any]:
        return {"limit": self.limit, "resets_at": self.resets_at}


class TeamSuspendedError(QuotaExceededError):
    """The team was suspended by an administrator: no new jobs until it is resumed.

    A subclass, so every caller that handles QuotaExceededError (job form, JSON API: 402)
    refuses the submit with this message without knowing about suspension.
    """

    def __init__(self, message: str):
        super().__init__(message, limit="suspended", resets_at=None)
