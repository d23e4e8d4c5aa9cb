"""Domain errors of the billing app, mapped to form errors and API answers (HTTP 402)."""

from __future__ import annotations

from datetime import datetime


class QuotaExceededError(Exception):
    """A submit was refused because the team has reached one of its limits.

    `limit` names the limit: "videos" (monthly video count), "budget" (monthly spend in cents)
    or "concurrency" (jobs in flight at once). `resets_at` is when the limit frees up by itself:
    the start of the next calendar month (UTC) for "videos" and "budget", None for
    "concurrency" (it frees up when a running job finishes).
    """

    def __init__(self, message: str, *, limit: str, resets_at: datetime | None = None):
        super().__init__(message)
        self.message = message
        self.limit = limit
        self.resets_at = resets_at

    def __str__(self) -> str:
        return self.message


class TeamSuspendedError(QuotaExceededError):
    """The team was suspended by an administrator: no new jobs until it is resumed.

    A subclass, so every caller that handles QuotaExceededError (job form, JSON API: 402)
    refuses the submit with this message without knowing about suspension.
    """

    def __init__(self, message: str):
        super().__init__(message, limit="suspended", resets_at=None)
