"""Domain errors of the batches app (portal.errors maps them to pages and API answers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.errors import ConflictError, FieldError


@dataclass(frozen=True)
class RowError:
    """One bad input of one item: `index` 0-based in the request (the CSV's `line` too, where
    the items came from a file), `field` as the API names it, `column` as the file does."""

    index: int
    field: str
    message: str
    line: int | None = None
    column: str = ""

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"index": self.index, "field": self.field, "message": self.message}
        if self.line is not None:
            found["line"] = self.line
            found["column"] = self.column
        return found


class BatchInputError(FieldError):
    """Bad input for a batch, all of it at once: nothing is made until every item is right."""

    def __init__(self, errors: list[RowError], *, field: str = "items", message: str = ""):
        self.errors = errors
        first = errors[0] if errors else None
        summary = message or (
            f"{len(errors)} item(s) have errors; nothing was created"
            if first is None or len(errors) > 1
            else f"{first.field}: {first.message}; nothing was created"
        )
        super().__init__(first.field if first else field, summary)

    def __str__(self) -> str:
        return self.message

    def extra(self) -> dict[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


class BatchStateError(ConflictError):
    code = "invalid_state"
