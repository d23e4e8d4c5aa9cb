"""A provider's download streamed into a temporary file, in constant memory."""

from __future__ import annotations

import struct
import tempfile
import time
from dataclasses import dataclass
from typing import BinaryIO, cast

from django.conf import settings
from django.core.files import File

from videos.providers.base import ResultStream
from videos.providers.errors import TransientError

# A template video is a few MB; anything this large is not one.
MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024


class DownloadError(Exception):
    """The file is not worth retrying (empty, too large)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Downloaded:
    file: File
    bytes: int
    content_type: str
    duration_s: float | None

    def close(self) -> None:
        self.file.close()


def download(
    stream: ResultStream, *, max_bytes: int = MAX_VIDEO_BYTES, default_type: str = "video/mp4"
) -> Downloaded:
    # Spooled: small files stay in memory, large ones go to a temp file; memory stays flat.
    tmp = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  (handed on)
    size = 0
    # A host that trickles bytes forever must not hold a worker: the whole download has a
    # deadline, besides each read's timeout.
    deadline = time.monotonic() + settings.DOWNLOAD_MAX_SECONDS
    try:
        if stream.length is not None and stream.length > max_bytes:
            raise DownloadError(f"the file is larger than {max_bytes // 1048576} MB")
        for chunk in stream.chunks:
            size += len(chunk)
            if size > max_bytes:
                raise DownloadError(f"the file is larger than {max_bytes // 1048576} MB")
            if time.monotonic() > deadline:
                raise TransientError("slow", "the download took too long; trying again later")
            tmp.write(chunk)
    except (DownloadError, TransientError):
        tmp.close()
        raise
    except Exception as exc:  # a connection dropped mid-body is worth another try
        tmp.close()
        raise TransientError("download", f"the download broke off ({type(exc).__name__})") from None
    finally:
        stream.close()
    if size == 0:
        tmp.close()
        raise DownloadError("the upstream sent an empty file")
    content_type = stream.content_type
    duration = None
    if default_type.startswith("video/"):
        tmp.seek(0)
        duration = mp4_duration(cast(BinaryIO, tmp))
        if not content_type.startswith("video/"):
            content_type = default_type
    elif not content_type.startswith("image/"):
        content_type = default_type
    tmp.seek(0)
    return Downloaded(
        file=File(tmp, name="download"), bytes=size, content_type=content_type, duration_s=duration
    )


# What an image from an upstream may be: raster formats only (an SVG would be script served
# from our own origin), decided by content, never by the Content-Type it came with.
RASTER_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def raster_type(stored: Downloaded) -> str:
    """The image's content type by its content; DownloadError when it is not a raster image."""
    from PIL import Image

    stored.file.seek(0)
    try:
        with Image.open(stored.file) as image:
            fmt = image.format or ""
            image.verify()
    except Exception:
        raise DownloadError("the file is not a PNG, JPEG, WebP or GIF image") from None
    finally:
        stored.file.seek(0)
    if fmt not in RASTER_TYPES:
        raise DownloadError(f"the image is {fmt or 'of an unknown kind'}, not PNG/JPEG/WebP/GIF")
    return RASTER_TYPES[fmt]


def mp4_duration(stream: BinaryIO) -> float | None:
    """Seconds from the MP4 `moov/mvhd` box, or None when it can't be found."""
    end = _find_box(stream, b"moov", 0, None)
    if end is None:
        return None
    if _find_box(stream, b"mvhd", stream.tell(), end) is None:
        return None
    header = stream.read(4)
    if len(header) < 4:
        return None
    version = header[0]
    if version == 1:
        data = stream.read(28)
        if len(data) < 28:
            return None
        timescale, duration = struct.unpack(">IQ", data[16:28])
    else:
        data = stream.read(16)
        if len(data) < 16:
            return None
        timescale, duration = struct.unpack(">II", data[8:16])
    return round(duration / timescale, 3) if timescale else None


def _find_box(stream: BinaryIO, kind: bytes, start: int, end: int | None) -> int | None:
    """Seek to the body of the first `kind` box in [start, end); return the box's end offset."""
    pos = start
    while end is None or pos + 8 <= end:
        stream.seek(pos)
        header = stream.read(8)
        if len(header) < 8:
            return None
        size, box = struct.unpack(">I4s", header)
        body = pos + 8
        if size == 1:
            large = stream.read(8)
            if len(large) < 8:
                return None
            size = struct.unpack(">Q", large)[0]
            body = pos + 16
        elif size == 0:  # box runs to the end of the file
            stream.seek(0, 2)
            size = stream.tell() - pos
        if size < 8:
            return None
        if box == kind:
            stream.seek(body)
            return pos + size
        pos += size
    return None
