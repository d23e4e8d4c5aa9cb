"""Domain errors of the videos app, mapped to form errors, HTTP codes and API answers."""

from __future__ import annotations

from portal.errors import FieldError


class JobInputError(FieldError):
    """Bad input for a new job; `field` names the input, the message says why."""


class NoUsableKeyError(Exception):
    """The caller has no active vault key that fits the template's provider and region."""


class JobStateError(Exception):
    """The job is not in a state that allows the operation (e.g. cancel after submit)."""


class IdempotencyConflictError(Exception):
    """The Idempotency-Key was used before with a different request."""
