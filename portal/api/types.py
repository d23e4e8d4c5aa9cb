"""Field types shared by the API's In schemas."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator


def _no_control_characters(value: str) -> str:
    # NUL and other control characters have no business in any field (PostgreSQL refuses NUL
    # outright), and a lone surrogate cannot even be stored as UTF-8: refuse both by name.
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in "\t\n\r":
            raise ValueError("must not contain control characters")
        if category == "Cs":
            raise ValueError("must be valid Unicode text")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]
