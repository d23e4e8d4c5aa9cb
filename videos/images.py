"""Image rules of the upstream, checked before anything is sent (FACTS.md, "Media input rules").

JPG/JPEG/PNG/WebP by content (never by file name), < 20 MB, shorter side > 300 px,
aspect ratio between 2:5 and 5:2, and no decompression bombs.
"""

from __future__ import annotations

import base64
import binascii
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

from PIL import Image

from portal.errors import FieldError

MAX_BYTES = 20 * 1024 * 1024
MIN_SHORT_SIDE = 300
MIN_ASPECT = Fraction(2, 5)
MAX_ASPECT = Fraction(5, 2)
# Anything larger is refused before Pillow decodes it (about 6300 x 6300, 120 MB of RGB).
MAX_PIXELS = 40_000_000
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class ImageRuleError(FieldError):
    """An input image breaks one rule; `field` names the input, the message says which rule."""


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    width: int
    height: int
    bytes: int


def check_image(field: str, stream: BinaryIO, size: int) -> CheckedImage:
    """Check one image; leaves the stream at position 0 on success."""
    if size <= 0:
        raise ImageRuleError(field, "the file is empty")
    if size >= MAX_BYTES:
        raise ImageRuleError(field, f"the image is {size / 1048576:.1f} MB; it must be under 20 MB")
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: treat it as refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                fmt = img.format
                width, height = img.size
                if fmt not in FORMATS:
                    raise ImageRuleError(
                        field, f"the file is {fmt or 'not an image'}; use JPEG, PNG or WebP"
                    )
                if width * height > MAX_PIXELS:
                    raise ImageRuleError(
                        field, f"the image is {width}x{height} px, too large to process safely"
                    )
                # Decoding is the one check that finds a truncated JPEG or WebP too
                # (Image.verify() checks little beyond PNG).
                img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRuleError(field, "the image is too large to process safely") from None
    except ImageRuleError:
        raise
    except Exception:
        # Pillow raises many types for broken files; the user only needs to know it's unreadable.
        raise ImageRuleError(field, "the file is not a readable JPEG, PNG or WebP image") from None
    finally:
        stream.seek(0)
    short_side = min(width, height)
    if short_side <= MIN_SHORT_SIDE:
        raise ImageRuleError(
            field,
            f"the shorter side is {short_side} px; it must be more than {MIN_SHORT_SIDE} px",
        )
    aspect = Fraction(width, height)
    if not MIN_ASPECT <= aspect <= MAX_ASPECT:
        raise ImageRuleError(
            field,
            f"the aspect ratio is {width}:{height}; it must be between 2:5 and 5:2",
        )
    return CheckedImage(content_type=FORMATS[fmt], width=width, height=height, bytes=size)


def decode_data_url(field: str, value: str) -> tuple[bytes, str]:
    """`data:image/...;base64,...` -> (bytes, declared type). The content is checked separately."""
    header, sep, payload = value.partition(",")
    if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ImageRuleError(field, "must be a data:image/...;base64, URL or an http(s) URL")
    # base64 grows data by 4/3: refuse early what cannot be under 20 MB.
    if len(payload) > MAX_BYTES * 4 // 3 + 4:
        raise ImageRuleError(field, "the image must be under 20 MB")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRuleError(field, "the base64 data is not valid") from None
    return raw, header[len("data:") : -len(";base64")]


def to_data_url(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
