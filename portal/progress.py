"""A small text progress bar for management commands (long operations show progress)."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def progress_bar(label: str, stream: TextIO | Any = None, width: int = 30):
    # A management command's OutputWrapper appends a newline to every write; use its stream.
    out = getattr(stream, "_out", stream) or sys.stderr

    def update(done: int, total: int) -> None:
        filled = width if total == 0 else int(width * done / total)
        out.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            out.write("\n")
        out.flush()

    return update
