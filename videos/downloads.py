"""A provider's download, in constant memory: streamed straight into storage (`store`, the
result video: written once, S3 multipart for big files), or into a temporary file
(`download`, small images and catalogue assets that are checked before they are kept)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage

from videos.providers.base import ResultStream
from videos.providers.errors import TransientError

logger = logging.getLogger("videos.downloads")

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
    tmp.seek(0)
    return Downloaded(
        file=File(tmp, name="download"),
        bytes=size,
        content_type=_content_type(stream.content_type, default_type),
    )


def _content_type(declared: str, default_type: str) -> str:
    family = default_type.split("/")[0] + "/"
    return declared if declared.startswith(family) else default_type


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


@dataclass
class Stored:
    name: str  # the name the storage gave it
    bytes: int
    content_type: str


def store(
    stream: ResultStream,
    *,
    storage: Storage,
    name: str,
    max_bytes: int | None = None,
    default_type: str = "video/mp4",
) -> Stored:
    """Stream the download straight into `storage` under `name`: one copy, written once.

    Local files get the chunks as they come; S3 gets them through boto3's managed upload
    (multipart above S3_MULTIPART_CHUNK_BYTES, with a bounded number of parts in memory:
    portal/settings.py). The size limit, the deadline and a body cut short raise before
    anything is kept: a partly written file is deleted here."""
    max_bytes = MAX_VIDEO_BYTES if max_bytes is None else max_bytes
    body = _Body(
        stream, max_bytes=max_bytes, content_type=_content_type(stream.content_type, default_type)
    )
    # The name is ours (a random part per attempt) and free now: if this fails, deleting it
    # deletes only what this call wrote.
    name = storage.get_available_name(name)
    saved = ""
    try:
        if stream.length is not None and stream.length > max_bytes:
            raise DownloadError(f"the file is larger than {max_bytes // 1048576} MB")
        try:
            saved = storage.save(name, cast(IO[bytes], body))
        except Exception:
            # boto3 reads the body in its own threads and may wrap what it raised: ours wins.
            if body.error is not None:
                raise body.error from None
            raise
        if body.error is not None:
            raise body.error
        if body.size == 0:
            raise DownloadError("the upstream sent an empty file")
        if stream.length is not None and body.size < stream.length:
            raise TransientError(
                "download", f"the download broke off after {body.size} of {stream.length} bytes"
            )
    except BaseException:
        # Local storage leaves what it wrote so far; a failed S3 upload is aborted by boto3
        # (deleting is then a no-op). A name of our own, so this deletes nobody else's file.
        _delete_quietly(storage, saved or name)
        raise
    finally:
        stream.close()
    return Stored(name=saved, bytes=body.size, content_type=body.content_type)


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # the storage is what just failed; the sweep of a lost file is the log
        logger.warning("could not delete the partial file %s", name)


class _Body:
    """The download as a file for Storage.save: `chunks()` for local files, `read(n)` for
    boto3 (which wants exactly n bytes but at the end: S3 parts other than the last must be
    at least 5 MB). Not seekable: the bytes are read once, as they arrive."""

    def __init__(self, stream: ResultStream, *, max_bytes: int, content_type: str):
        self.name = "download"
        self.content_type = content_type  # django-storages sends it as the object's type
        self.size = 0
        self.error: Exception | None = None
        self._max_bytes = max_bytes
        self._chunks = iter(stream.chunks)
        self._pending = bytearray()
        self._done = False
        # A host that trickles bytes forever must not hold a worker: the whole download has
        # a deadline, besides each read's timeout.
        self._deadline = time.monotonic() + settings.DOWNLOAD_MAX_SECONDS

    def _next(self) -> bytes | None:
        if self._done:
            return None
        try:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
                return None
            self.size += len(chunk)
            if self.size > self._max_bytes:
                raise DownloadError(f"the file is larger than {self._max_bytes // 1048576} MB")
            if time.monotonic() > self._deadline:
                raise TransientError("slow", "the download took too long; trying again later")
            return chunk
        except (DownloadError, TransientError) as exc:
            self._fail(exc)
        except Exception as exc:  # a connection dropped mid-body is worth another try
            self._fail(TransientError("download", f"the download broke off ({type(exc).__name__})"))
        raise AssertionError("unreachable")

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        self._done = True
        raise exc

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        while (chunk := self._next()) is not None:
            if chunk:
                yield chunk

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = self._next()
            if chunk is None:
                break
            self._pending += chunk
        if size < 0:
            size = len(self._pending)
        with memoryview(self._pending) as view:  # one copy out, not two
            data = bytes(view[:size])
        del self._pending[:size]
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        pass  # the stream is closed by store(), whatever the storage does
