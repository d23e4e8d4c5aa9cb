"""A minimal PNG encoder (zlib + struct), so the sandbox can serve real, decodable images.

Covers, posters and the "intermediate image" of an agent run are all generated here: a
diagonal two-colour gradient, 640x360 by default so it looks right where a page shows it.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A few pleasant colour pairs; an image name picks one, so different files look different.
PALETTE: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((24, 40, 90), (40, 170, 200)),
    ((90, 20, 60), (240, 120, 80)),
    ((10, 70, 40), (150, 220, 120)),
    ((60, 30, 110), (200, 120, 240)),
    ((30, 30, 30), (200, 200, 200)),
    ((110, 60, 10), (250, 210, 90)),
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_rgb(width: int, height: int, rows: list[bytes]) -> bytes:
    """Encode 8-bit RGB rows (each ``3 * width`` bytes) as a PNG file."""
    if len(rows) != height or any(len(row) != 3 * width for row in rows):
        raise ValueError("rows do not match the image size")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


@lru_cache(maxsize=len(PALETTE) * 2)
def gradient_png(variant: int = 0, width: int = 640, height: int = 360) -> bytes:
    """A left-to-right gradient between a palette pair, darkened towards the bottom."""
    start, end = PALETTE[variant % len(PALETTE)]
    span = max(width - 1, 1)
    base = bytearray()
    for x in range(width):
        base.extend(s + (e - s) * x // span for s, e in zip(start, end, strict=True))
    base_row = bytes(base)
    rows = []
    for y in range(height):
        # One translation table per row shades every channel at once: cheap in pure Python.
        factor = 1.0 - 0.45 * y / max(height - 1, 1)
        table = bytes(int(v * factor) for v in range(256))
        rows.append(base_row.translate(table))
    return encode_rgb(width, height, rows)
