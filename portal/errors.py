"""One base for every refusal a service can give a user, whatever the surface.

A service raises a DomainError subclass; it is turned into an answer in exactly one place
per surface: the JSON API (portal.api.errors: status, `{"detail", "code", "field"}`) and the
pages (portal.web: the form field's error, or a message and the status page). `status` is
the HTTP status on both, `code` names the refusal for machines, `field` the input at fault.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    # Seconds after which trying again may succeed (sent as Retry-After), when known.
    retry_after: int | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def extra(self) -> dict[str, Any]:
        """More of the answer's body (e.g. which quota, and when it resets)."""
        return {}


class FieldError(DomainError):
    """Bad input: `field` names it, the message says why. Pages show it next to the field."""

    status = 422
    code = "invalid"
    field: str

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class NotFoundError(DomainError):
    status = 404
    code = "not_found"


class ConflictError(DomainError):
    """The object is not in a state that allows this (409)."""

    status = 409
    code = "conflict"


class PermissionDeniedError(DomainError):
    """The user's role does not allow this (403). Objects of another team are NotFound."""

    status = 403
    code = "forbidden"
