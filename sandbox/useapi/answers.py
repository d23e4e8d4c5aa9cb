"""What a useapi endpoint hands back to the HTTP layer: a JSON answer or an error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The docs' own message for an unknown template or video (useapi-minimax-agent-create.txt).
NOT_FOUND = "The video or template you are trying to use does not exist or has been deleted."
UNAUTHORIZED = "Unauthorized"

# Messages for the statuses the ``err``/``flaky`` switches produce; anything else is generic.
ERROR_MESSAGES: dict[int, str] = {
    400: "Bad request",
    401: UNAUTHORIZED,
    402: "Payment required: insufficient credits",
    404: NOT_FOUND,
    412: "Insufficient credits",
    429: "Too many requests: all account slots are busy, retry later",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
    596: "MiniMax session is broken, please retry later",
}


@dataclass
class Answer:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


class UseapiError(Exception):
    """Raised anywhere below an endpoint; the HTTP layer answers ``{"error": message}``."""

    def __init__(self, status: int, message: str | None = None, retry_after: int | None = None):
        self.status = status
        self.message = message or ERROR_MESSAGES.get(status, f"Upstream error {status}")
        self.retry_after = retry_after
        super().__init__(f"{status} {self.message}")

    def answer(self) -> Answer:
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return Answer(self.status, {"error": self.message}, headers)
