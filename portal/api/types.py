"""Field types shared by the API's In schemas, and pieces of its OpenAPI document."""

from __future__ import annotations

import re
from typing import Annotated

from ninja import Header
from pydantic import AfterValidator

# Unicode's Cc category (C0, DEL, C1) but tab, newline and carriage return; and Cs, the
# surrogates. One regular expression rather than a look at each character in Python: a data
# URL field may be 28 MB long, and checking it character by character took seconds of CPU
# per request.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_control_characters(value: str) -> str:
    # NUL and other control characters have no business in any field (PostgreSQL refuses NUL
    # outright), and a lone surrogate cannot even be stored as UTF-8: refuse both by name.
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode text")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]

# The header of every create that may be sent again (POST /videos, POST /batches).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Any unique string of yours, e.g. a UUID (printable ASCII, at most 255).",
    ),
]


def binary_content(media_type: str) -> dict:
    """A file answer's `content` in the document: its real type, and also
    application/octet-stream, the one binary type generated clients (openapi-python-client)
    read as bytes; without it such a client in strict mode raises on the 200."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {media_type: binary, "application/octet-stream": binary}
