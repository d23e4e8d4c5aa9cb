"""Input images checked against their provider's rules before anything is stored or sent.

Formats by content (never by file name), size, the shorter side, the aspect ratio, and no
decompression bombs; each provider states its numbers (videos.providers.base.ImageRules).
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
from videos.providers.base import ImageRules

# No provider takes more; a data URL longer than this is refused before it is decoded.
MAX_DATA_URL_BYTES = 20 * 1024 * 1024


class ImageRuleError(FieldError):
    """An input image breaks one rule; `field` names the input, the message says which rule."""


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    width: int
    height: int
    bytes: int


def check_image(field: str, stream: BinaryIO, size: int, rules: ImageRules) -> CheckedImage:
    """Check one image; leaves the stream at position 0 on success."""
    if size <= 0:
        raise ImageRuleError(field, "the file is empty")
    limit_mb = rules.max_bytes // (1024 * 1024)
    if size >= rules.max_bytes:
        raise ImageRuleError(
            field, f"the image is {size / 1048576:.1f} MB; it must be under {limit_mb} MB"
        )
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: treat it as refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                fmt = img.format
                width, height = img.size
                if fmt not in rules.formats:
                    raise ImageRuleError(
                        field, f"the file is {fmt or 'not an image'}; use {rules.format_names}"
                    )
                if width * height > rules.max_pixels:
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
        raise ImageRuleError(
            field, f"the file is not a readable {rules.format_names} image"
        ) from None
    finally:
        stream.seek(0)
    short_side = min(width, height)
    if short_side <= rules.min_short_side:
        raise ImageRuleError(
            field,
            f"the shorter side is {short_side} px; it must be more than {rules.min_short_side} px",
        )
    aspect = Fraction(width, height)
    if not rules.min_aspect <= aspect <= rules.max_aspect:
        low, high = rules.min_aspect, rules.max_aspect
        raise ImageRuleError(
            field,
            f"the aspect ratio is {width}:{height}; it must be between "
            f"{low.numerator}:{low.denominator} and {high.numerator}:{high.denominator}",
        )
    assert fmt is not None  # a format outside the rules was refused above
    return CheckedImage(content_type=rules.formats[fmt], width=width, height=height, bytes=size)


def decode_data_url(field: str, value: str) -> tuple[bytes, str]:
    """`data:image/...;base64,...` -> (bytes, declared type). The content is checked separately."""
    header, sep, payload = value.partition(",")
    if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ImageRuleError(field, "must be a data:image/...;base64, URL or an http(s) URL")
    # base64 grows data by 4/3: refuse early what cannot be under any provider's limit.
    if len(payload) > MAX_DATA_URL_BYTES * 4 // 3 + 4:
        raise ImageRuleError(field, "the image must be under 20 MB")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRuleError(field, "the base64 data is not valid") from None
    return raw, header[len("data:") : -len(";base64")]
