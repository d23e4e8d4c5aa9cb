"""Streaming a result video from the upstream's signed URL, in constant memory."""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from django.core.files import File

from videos import minimax

CHUNK = 256 * 1024
# A template video is a few MB; anything this large is not one.
MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024


class FetchError(Exception):
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


def download(client: minimax.MiniMaxClient, url: str) -> Downloaded:
    if not url.startswith(("https://", "http://")):
        raise FetchError("the upstream gave no video URL")
    # Spooled: small files stay in memory, large ones go to a temp file; memory stays flat.
    tmp = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  (handed on)
    size = 0
    response = client.open_download(url)
    try:
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > MAX_VIDEO_BYTES:
                raise FetchError("the video is larger than 2 GB")
            tmp.write(chunk)
    except FetchError:
        tmp.close()
        raise
    except Exception as exc:  # a connection dropped mid-body is worth another try
        tmp.close()
        raise minimax.TransientError(
            "download", f"the download broke off ({type(exc).__name__})"
        ) from None
    finally:
        response.close()
    if size == 0:
        tmp.close()
        raise FetchError("the upstream sent an empty file")
    tmp.seek(0)
    duration = mp4_duration(tmp)
    tmp.seek(0)
    if not content_type.startswith("video/"):
        content_type = "video/mp4"
    return Downloaded(
        file=File(tmp, name="video.mp4"), bytes=size, content_type=content_type, duration_s=duration
    )


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
