"""What can go wrong in a call to an upstream, in the words the job life cycle acts on.

    UpstreamError               every failed call: `code` (the upstream's code or an HTTP
    │                           marker), `message` (safe to show a user), `trace_id`
    ├── TransientError          try again later (`retry_after` seconds at least)
    │   ├── RateLimited         the key is busy or rate-limited: cool it, try later
    │   ├── CallbackUnreachable our callback URL failed its check: send without it
    │   └── AmbiguousCreate     a create may have happened: look before creating again
    └── PermanentError          trying again will not help
        ├── CredentialsRejected the key itself is bad: mark it invalid
        ├── InsufficientBalance the account cannot pay
        └── Moderated           the input or the output was refused by moderation

A provider module raises only these; nothing outside it sees a `requests` exception.
Messages never hold a secret: each provider scrubs its own key out of upstream text.
"""

from __future__ import annotations


class UpstreamError(Exception):
    def __init__(self, code: str, message: str, *, trace_id: str = ""):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.trace_id = trace_id


class TransientError(UpstreamError):
    """Try again later; `retry_after` is the least sensible wait in seconds (0: any)."""

    def __init__(self, code: str, message: str, *, trace_id: str = "", retry_after: float = 0):
        super().__init__(code, message, trace_id=trace_id)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The upstream refused for rate or capacity (MiniMax 1002/2045, useapi 429)."""


class CallbackUnreachable(TransientError):
    """The upstream refused the create because it could not verify our callback URL (MiniMax
    echoes a challenge first): nothing was made; the job is sent again without one."""


class AmbiguousCreate(TransientError):
    """The create was sent but its answer was lost (read timeout, stream cut before the task
    id). The upstream may have made, and will bill, the task: find it before creating again."""


class PermanentError(UpstreamError):
    """Trying again will not help; the job ends with this message."""


class CredentialsRejected(PermanentError):
    """The upstream refused the key (MiniMax 1004/2049, useapi 401): stop using it."""


class InsufficientBalance(PermanentError):
    """The upstream account has no balance or credits left (MiniMax 1008, useapi 402/412)."""


class Moderated(PermanentError):
    """The upstream's moderation refused the input or the generated video."""
