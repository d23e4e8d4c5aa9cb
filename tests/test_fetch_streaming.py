"""A result streams straight into storage, written once, in flat memory; FFmpeg reads only
what it needs of a stored object. Runs on local files here and on S3 (moto) in
`scripts/test-services.sh`, whichever storage the leg configures."""

from __future__ import annotations

import io
import random
from fractions import Fraction

import av
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from tests.fakes import MP4
from videos import downloads, media, stored
from videos.providers.base import ResultStream
from videos.providers.errors import TransientError

MB = 1024 * 1024


def stream_of(size: int, *, chunk: int = 64 * 1024, length: int | None = None) -> ResultStream:
    block = b"\x5a" * chunk

    def chunks():
        left = size
        while left > 0:
            yield block[: min(chunk, left)]
            left -= chunk

    return ResultStream("video/mp4", size if length is None else length, chunks(), lambda: None)


def rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


@pytest.fixture
def peak_memory():
    """Peak RSS growth (kB) of what runs in the `with` block, from the kernel's high-water mark
    (reset first, so earlier tests' peaks don't count)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pytest.skip("needs /proc/self/clear_refs (Linux) to reset the peak RSS")

    class Peak:
        def __enter__(self):
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.before = rss_kb("VmRSS")
            return self

        def __exit__(self, *exc):
            self.growth_kb = rss_kb("VmHWM") - self.before

    return Peak()


@pytest.mark.django_db
def test_it_stores_a_200_mb_result_with_flat_memory(peak_memory):
    size = 200 * MB
    # The storage's first use loads its client (boto3's service models: tens of MB, once per
    # process); what is measured is what storing one more file costs.
    default_storage.delete(default_storage.save("jobs/t/warm-up", io.BytesIO(b"warm")))
    with peak_memory as peak:
        video = downloads.store(stream_of(size), storage=default_storage, name="jobs/t/big.mp4")
    try:
        assert video.bytes == size and default_storage.size(video.name) == size
        assert peak.growth_kb < 64 * 1024, f"RSS grew {peak.growth_kb // 1024} MB"
        print(f"storing 200 MB grew the peak RSS by {peak.growth_kb // 1024} MB")
        if on_s3():
            head = s3_head(video.name)
            # Sent in parts as it came (a multipart ETag ends in -<parts>), typed as a video.
            assert head["ETag"].strip('"').endswith(f"-{size // settings.S3_MULTIPART_CHUNK_BYTES}")
            assert head["ContentType"] == "video/mp4"
    finally:
        default_storage.delete(video.name)


def on_s3() -> bool:
    return bool(settings.S3_BUCKET)


def s3_head(name: str) -> dict:
    storage = default_storage
    return storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=name)


@pytest.mark.skipif(not settings.S3_BUCKET, reason="needs S3 (moto in test-services)")
def test_it_types_the_stored_video_and_its_poster_on_s3(make_job, upstream):
    from tests.apiclient import drive_to_success

    job = make_job()
    drive_to_success(job, upstream)
    job.refresh_from_db()
    result = job.result
    assert s3_head(result.file.name)["ContentType"] == "video/mp4"
    assert s3_head(result.poster.file.name)["ContentType"] == "image/webp"


@pytest.mark.django_db
def test_it_keeps_nothing_of_a_download_that_breaks_off():
    def breaking():
        yield b"x" * (9 * MB)  # past one S3 part: a multipart upload had begun
        raise ConnectionError("reset by peer")

    stream = ResultStream("video/mp4", None, breaking(), lambda: None)
    with pytest.raises(TransientError, match="broke off"):
        downloads.store(stream, storage=default_storage, name="jobs/t/broken.mp4")
    assert not default_storage.exists("jobs/t/broken.mp4")


@pytest.mark.django_db
def test_it_refuses_a_file_past_the_limit_while_it_streams():
    with pytest.raises(downloads.DownloadError, match="larger than 1 MB"):
        downloads.store(
            stream_of(3 * MB, length=None),
            storage=default_storage,
            name="jobs/t/huge.mp4",
            max_bytes=MB,
        )
    assert not default_storage.exists("jobs/t/huge.mp4")


@pytest.mark.django_db
def test_it_reads_a_stored_video_where_it_lies():
    name = default_storage.save("jobs/t/sample.mp4", io.BytesIO(MP4))
    try:
        with stored.readable(default_storage, name) as source:
            facts, poster = media.inspect(source)
        assert (facts.duration_s, facts.width, facts.height, facts.codec) == (3.0, 320, 240, "h264")
        assert poster.width == 320
    finally:
        default_storage.delete(name)


def big_video(seconds: int = 4) -> bytes:
    """A few MB of MJPEG noise in a MOV with its index at the end (no faststart)."""
    out = io.BytesIO()
    rng = random.Random(1)
    with av.open(out, mode="w", format="mov") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuvj420p"
        for i in range(seconds * 10):
            noise = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
            frame = av.VideoFrame.from_image(noise)
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


class FakeObject:
    """A boto3 S3 Object's read side: content_length and ranged get()."""

    def __init__(self, data: bytes):
        self.data = data
        self.content_length = len(data)
        self.fetched = 0

    def get(self, Range: str):
        first, last = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        self.fetched += last + 1 - first
        return {"Body": io.BytesIO(self.data[first : last + 1])}


def test_it_probes_an_object_by_ranged_reads_not_a_whole_copy(monkeypatch):
    monkeypatch.setattr(stored, "BLOCK_BYTES", 256 * 1024)
    data = big_video()
    assert len(data) > 2 * MB
    obj = FakeObject(data)
    facts, _poster = media.inspect(stored.RangedReader(obj))
    assert (facts.width, facts.height, facts.duration_s) == (640, 480, 4.0)
    # The index at the end and the first second of frames: well under the whole file.
    assert obj.fetched < len(data) / 2
