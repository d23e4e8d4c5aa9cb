"""A batch as one ZIP: every stored video plus a CSV manifest, streamed in constant memory.

zipfile writes to a sink that is not seekable, so each entry carries a data descriptor
(sizes and CRC after the data) and nothing is ever rewound: every chunk of a video goes out
as soon as it is read from storage. Entries are STORED (MP4 does not compress), so the
memory held is one storage chunk, whatever the batch's size.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.db.models import Prefetch
from django.utils import timezone

from batches.models import Batch
from batches.selectors import current_items
from videos.models import Attachment, AttachmentKind

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ["row", "job_id", "status", "error", "video_file", "reference"]
CHUNK = 256 * 1024


class _Sink:
    """Where zipfile writes: the bytes wait here until the generator hands them on. No
    tell() or seek(): zipfile then counts positions itself and never goes back."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def video_file_name(row: int, reference: str) -> str:
    # The reference, made safe as a file name (no folders, no odd characters).
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", reference).strip(".-")[:60]
    return f"{row:04d}-{safe}.mp4" if safe else f"{row:04d}.mp4"


def _csv_cell(value: str) -> str:
    # A spreadsheet must not run a reference or an error message as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def archive_name(batch: Batch) -> str:
    return f"batch-{batch.id}.zip"


def archive_stream(batch: Batch) -> Iterator[bytes]:
    sink = _Sink()
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(MANIFEST_HEADER)
    items = current_items(batch).prefetch_related(
        Prefetch(
            "job__attachments",
            queryset=Attachment.objects.filter(kind=AttachmentKind.RESULT).exclude(file=""),
            to_attr="results",
        )
    )
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for item in items.iterator(chunk_size=100):
            job = item.job
            name = ""
            results = job.results  # type: ignore[attr-defined]
            if results:
                name = video_file_name(item.row, job.reference)
                when = (job.finished_at or timezone.now()).timetuple()[:6]
                info = zipfile.ZipInfo(name, date_time=when)
                info.compress_type = zipfile.ZIP_STORED
                with (
                    results[0].file.open("rb") as stored,
                    archive.open(info, "w", force_zip64=True) as entry,
                ):
                    while chunk := stored.read(CHUNK):
                        entry.write(chunk)
                        if out := sink.drain():
                            yield out
            writer.writerow(
                [
                    item.row,
                    str(job.id),
                    job.status,
                    _csv_cell(job.error_message),
                    name,
                    _csv_cell(job.reference),
                ]
            )
        info = zipfile.ZipInfo(MANIFEST, date_time=timezone.now().timetuple()[:6])
        archive.writestr(info, manifest.getvalue().encode("utf-8"))
    yield sink.drain()


async def archive_stream_async(batch: Batch) -> AsyncIterator[bytes]:
    """The same stream for an ASGI server: Django would read a plain iterator to its end
    (the whole ZIP in memory) before sending a byte. Each chunk is made in the one sync
    thread (thread_sensitive: the generator's database connection stays its own)."""
    chunks = archive_stream(batch)

    def next_chunk() -> bytes | None:
        return next(chunks, None)

    while (chunk := await sync_to_async(next_chunk, thread_sensitive=True)()) is not None:
        yield chunk
