"""Domain errors of the videos app (portal.errors maps them to pages and API answers)."""

from __future__ import annotations

from portal.errors import ConflictError, DomainError, FieldError, PermissionDeniedError


class JobInputError(FieldError):
    """Bad input for a new job; `field` names the input, the message says why."""


class NoUsableKeyError(DomainError):
    """The caller has no active vault key that fits the template's provider and region."""

    code = "no_usable_key"

    def __init__(self, message: str):
        super().__init__(message, field="key_id")


class JobStateError(ConflictError):
    """The job is not in a state that allows the operation (e.g. cancel once it is running)."""

    code = "invalid_state"


class IdempotencyConflictError(ConflictError):
    """The Idempotency-Key was used before with a different request."""

    code = "idempotency_conflict"


class KeyInputError(FieldError):
    """Bad input for a vault key: `field` names the input, the message says why."""


class KeyInUseError(ConflictError):
    """A vault key still needed by unfinished jobs."""

    code = "key_in_use"


class KeyPermissionError(PermissionDeniedError):
    """Only a key's owner (or, to unshare it, the team's owners and admins) may do this."""
