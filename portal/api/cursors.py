"""The strict keyset cursor: an opaque token for "the rows after this one", newest first.

It names the last row given out by its (time, id): the next page is the rows strictly older
in that order, so it stays right while new rows arrive, and the database walks an index
instead of counting or skipping (no COUNT, no OFFSET). Only what `cursor_encode` writes is
taken back; anything else is a 422 naming the field, never a 500 nor a silently wider page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from portal.errors import FieldError

Pk = TypeVar("Pk", int, UUID)

_INT_PK = re.compile(r"[1-9][0-9]{0,18}")


def int_pk(text: str) -> int:
    # int() would take " 7", "0_7" and other digits than ASCII: only what str(int) writes.
    if not _INT_PK.fullmatch(text):
        raise ValueError(text)
    return int(text)


def cursor_encode(at: datetime, pk: int | UUID) -> str:
    raw = json.dumps([at.isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(
    cursor: str, *, pk: Callable[[str], Pk], field: str = "cursor"
) -> tuple[datetime, Pk]:
    """(time, id) of a cursor `cursor_encode` wrote; `pk` parses the id (int_pk, UUID)."""
    refused = FieldError(field, "not a cursor this API gave out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise refused from None
    # Exactly what cursor_encode writes: [aware ISO time, id], both strings.
    if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)):
        raise refused
    try:
        at, key = datetime.fromisoformat(parts[0]), pk(parts[1])
    except ValueError:
        raise refused from None
    if at.tzinfo is None:
        raise refused
    return at, key
