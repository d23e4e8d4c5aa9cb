"""The one shape of "bad input" errors: which field, and why. Pages show it next to the field;
the JSON API answers 422 with both."""

from __future__ import annotations


class FieldError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
