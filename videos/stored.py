"""Reading a stored file where it lies, for FFmpeg: a local path, or an S3 object through
ranged GETs of the parts FFmpeg asks for (its index and the first second of frames).

django-storages' own S3 file would first download the whole object into a temporary buffer
(in memory, by default): a second full copy of every result, which streaming it in avoids.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

from django.core.files.storage import Storage

# FFmpeg reads in 32 KB steps, mostly forwards: blocks of 1 MB make a few GETs per probe.
BLOCK_BYTES = 1024 * 1024
CACHED_BLOCKS = 4


@contextmanager
def readable(storage: Storage, name: str) -> Iterator[str | BinaryIO]:
    """What PyAV opens to read a stored file: its path when local, else a seekable reader."""
    try:
        path = storage.path(name)
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    opened = storage.open(name, "rb")
    obj = getattr(opened, "obj", None)  # django-storages' S3File: the boto3 Object
    if obj is None:
        with opened:
            yield cast(BinaryIO, opened)
        return
    reader = RangedReader(obj)
    try:
        yield cast(BinaryIO, reader)
    finally:
        reader.close()


class RangedReader(io.RawIOBase):
    """A seekable, read-only file over an S3 object (boto3 `Object`), fetching BLOCK_BYTES
    blocks by Range and keeping the last CACHED_BLOCKS: memory stays a few MB whatever the
    object's size."""

    def __init__(self, obj):
        super().__init__()
        self._obj = obj
        self._size: int = obj.content_length
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self.gets = 0  # ranged GETs made (tests and logs)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            index, start = divmod(self._pos, BLOCK_BYTES)
            block = self._block(index)
            piece = block[start : start + len(view) - done]
            if not piece:
                break
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done

    def _block(self, index: int) -> bytes:
        if index in self._blocks:
            self._blocks.move_to_end(index)
            return self._blocks[index]
        first = index * BLOCK_BYTES
        last = min(self._size, first + BLOCK_BYTES) - 1
        body = self._obj.get(Range=f"bytes={first}-{last}")["Body"]
        try:
            data = body.read()
        finally:
            body.close()
        self.gets += 1
        self._blocks[index] = data
        while len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return data
