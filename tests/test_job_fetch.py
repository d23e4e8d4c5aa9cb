from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from tests.fakes import MP4, TIMEOUT, FakeResponse, code, ok
from videos import downloads, services
from videos.models import Attachment, AttachmentKind, Job, JobStatus

VIDEO_URL = "https://cdn.example/out/v.mp4"


@pytest.fixture
def succeeded_upstream(make_job, enqueued):
    """A processing job whose upstream task succeeded with a video_url."""
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING,
        upstream_task_id="T1",
        upstream_state="succeeded",
        upstream_status="Success",
        upstream_data={"video_url": VIDEO_URL, "file_id": ""},
        submitted_at=timezone.now(),
    )
    job.refresh_from_db()
    enqueued.clear()
    return job


def result_dir(job):
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / "jobs" / str(job.team_id) / str(job.id)


def fetched_files(job) -> list[Path]:
    """What a fetch wrote for the job: its video and poster frame (not the input images)."""
    return [p for p in result_dir(job).glob("*") if p.name.startswith(("result-", "frame-"))]


def video(**headers) -> FakeResponse:
    return FakeResponse(content=MP4, headers={"Content-Type": "video/mp4", **headers})


def test_it_streams_the_video_into_storage_and_finishes_the_job(succeeded_upstream, upstream):
    upstream.on("/out/v.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 100
    result = job.result
    assert (result.bytes, result.content_type, result.duration_s) == (len(MP4), "video/mp4", 3.0)
    # What FFmpeg read from the stored file.
    assert (result.width, result.height, result.codec) == (320, 240, "h264")
    assert result.file.read() == MP4
    call = upstream.calls_to("/out/v.mp4")[0]
    assert call["stream"] is True and "Authorization" not in call["headers"]  # no key to the CDN
    assert job.events.filter(kind="video").count() == 1


def test_it_does_nothing_on_a_second_fetch(succeeded_upstream, upstream):
    upstream.on("/out/v.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    services.job_fetch(job_id=succeeded_upstream.id)
    assert len(upstream.calls_to("/out/v.mp4")) == 1
    assert Attachment.objects.filter(kind=AttachmentKind.RESULT).count() == 1


def test_it_keeps_the_first_copy_when_two_fetches_race(succeeded_upstream, upstream, monkeypatch):
    """Both fetches downloaded; the one that finishes second drops its file."""
    upstream.on("/out/v.mp4", video())
    from videos.services import fetch

    real_finish = fetch.finish

    def finish_after_a_twin(job_id, *args, **kwargs):
        Job.objects.filter(pk=job_id).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())
        return real_finish(job_id, *args, **kwargs)

    monkeypatch.setattr(fetch, "finish", finish_after_a_twin)
    services.job_fetch(job_id=succeeded_upstream.id)
    assert not Attachment.objects.filter(kind=AttachmentKind.RESULT).exists()
    assert Job.objects.get().events.filter(kind="video").count() == 0
    # The losing copy is gone from storage too, not only from the database.
    assert list(result_dir(succeeded_upstream).glob("result-*")) == []


def test_it_uses_files_retrieve_for_a_file_id(succeeded_upstream, upstream):
    Job.objects.filter(pk=succeeded_upstream.pk).update(
        upstream_data={"video_url": "", "file_id": "F9"}
    )
    upstream.on(
        "/v1/files/retrieve",
        ok(file={"file_id": "F9", "bytes": len(MP4), "download_url": "https://cdn.example/f.mp4"}),
    )
    upstream.on("/f.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    assert Job.objects.get().status == JobStatus.SUCCEEDED
    assert upstream.calls_to("/v1/files/retrieve")[0]["params"] == {"file_id": "F9"}


@pytest.mark.parametrize("answer", [FakeResponse(status_code=403, body={}), TIMEOUT("slow")])
def test_it_asks_again_for_a_fresh_url_when_the_download_fails(
    succeeded_upstream, upstream, answer
):
    upstream.on("/out/v.mp4", answer)
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.PROCESSING
    # The outcome is forgotten, so the next look re-queries and gets fresh links.
    assert (job.upstream_state, job.upstream_status, job.fetch_attempts) == ("", "", 1)
    assert job.next_attempt_at > timezone.now()
    assert job.events.last().kind == "error"


def test_it_gives_up_after_the_last_download_attempt(succeeded_upstream, upstream, settings):
    settings.JOB_FETCH_MAX_ATTEMPTS = 1
    upstream.on("/out/v.mp4", FakeResponse(status_code=404, body={}))
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED and job.error_code == "fetch"


def test_it_fails_when_files_retrieve_is_refused_for_good(succeeded_upstream, upstream):
    Job.objects.filter(pk=succeeded_upstream.pk).update(
        upstream_data={"video_url": "", "file_id": "F9"}
    )
    upstream.on("/v1/files/retrieve", code(2013, "file not found"))
    services.job_fetch(job_id=succeeded_upstream.id)
    assert Job.objects.get().status == JobStatus.FAILED


def test_it_skips_jobs_not_ready_to_fetch(make_job, upstream):
    job = make_job()
    services.job_fetch(job_id=job.id)
    assert upstream.calls == [] and Job.objects.get().status == JobStatus.QUEUED


def test_it_counts_a_storage_failure_as_an_attempt_and_tries_again(
    succeeded_upstream, upstream, monkeypatch
):
    upstream.on("/out/v.mp4", video())

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    from django.core.files.storage import storages

    # Whichever backend this leg runs (local files or S3), its saves fail.
    monkeypatch.setattr(type(storages["default"]), "save", broken_save)
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.PROCESSING and job.fetch_attempts == 1
    assert job.fetching_until is None and job.next_attempt_at > timezone.now()
    assert "OSError" in job.events.last().message


def test_it_fails_a_job_whose_fetch_keeps_failing(succeeded_upstream, upstream, settings):
    Job.objects.filter(pk=succeeded_upstream.pk).update(
        fetch_attempts=settings.JOB_FETCH_MAX_ATTEMPTS
    )
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED and job.error_code == "fetch"
    assert upstream.calls == []


def test_it_leaves_a_job_alone_while_another_fetch_holds_the_lease(succeeded_upstream, upstream):
    Job.objects.filter(pk=succeeded_upstream.pk).update(
        fetching_until=timezone.now() + timedelta(minutes=2)
    )
    services.job_fetch(job_id=succeeded_upstream.id)
    assert upstream.calls == []
    assert Job.objects.get().fetch_attempts == 0


def test_it_takes_over_a_fetch_whose_lease_ran_out(succeeded_upstream, upstream):
    Job.objects.filter(pk=succeeded_upstream.pk).update(
        fetching_until=timezone.now() - timedelta(seconds=1)
    )
    upstream.on("/out/v.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    assert Job.objects.get().status == JobStatus.SUCCEEDED


def test_it_cuts_a_poster_frame_for_the_result(succeeded_upstream, upstream):
    upstream.on("/out/v.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    result = job.result
    frame = result.poster
    assert frame.kind == AttachmentKind.FRAME and frame.content_type == "image/webp"
    assert (frame.width, frame.height) == (320, 240) and frame.bytes > 0
    with frame.file.open("rb") as fh, Image.open(fh) as image:
        assert (image.format, image.size) == ("WEBP", (320, 240))
    event = job.events.get(kind="video")
    assert event.data["poster_id"] == frame.pk and event.data["codec"] == "h264"


@pytest.mark.parametrize(
    "body",
    [
        b"this is no video at all" * 40,
        MP4[:1100],  # the header and index, but the frames cut off
        MP4[:600],  # the index cut short
    ],
    ids=["garbage", "no-frames", "cut-index"],
)
def test_it_counts_a_video_that_does_not_decode_as_a_failed_download(
    succeeded_upstream, upstream, body
):
    upstream.on("/out/v.mp4", FakeResponse(content=body, headers={"Content-Type": "video/mp4"}))
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.PROCESSING and job.fetch_attempts == 1
    # Asked again with fresh links, after a while, like any other failed download.
    assert (job.upstream_state, job.fetching_until) == ("", None)
    assert job.next_attempt_at > timezone.now()
    assert "does not decode" in job.events.last().message
    assert not Attachment.objects.filter(kind__in=["result", "frame"]).exists()
    # Neither the broken video nor anything else of this attempt stays in storage.
    assert fetched_files(job) == []


def test_it_fails_the_job_when_the_video_never_decodes(succeeded_upstream, upstream, settings):
    settings.JOB_FETCH_MAX_ATTEMPTS = 2
    upstream.on("/out/v.mp4", FakeResponse(content=b"\x00" * 4096, headers={}))
    services.job_fetch(job_id=succeeded_upstream.id)
    # The next look finds the task done again and hands out a second fetch.
    Job.objects.filter(pk=succeeded_upstream.pk).update(upstream_state="succeeded")
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED and job.error_code == "fetch"
    assert "does not decode" in job.error_message
    assert job.result is None


def test_it_retries_a_download_cut_short_of_its_announced_length(succeeded_upstream, upstream):
    upstream.on(
        "/out/v.mp4",
        FakeResponse(
            content=MP4, headers={"Content-Type": "video/mp4", "Content-Length": str(len(MP4) + 10)}
        ),
    )
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.PROCESSING and "broke off" in job.events.last().message
    assert fetched_files(job) == []


def test_it_refuses_a_video_over_the_size_limit_and_keeps_nothing(
    succeeded_upstream, upstream, monkeypatch
):
    monkeypatch.setattr(downloads, "MAX_VIDEO_BYTES", 5000)
    upstream.on("/out/v.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    job = Job.objects.get()
    assert job.status == JobStatus.PROCESSING and "larger than" in job.events.last().message
    assert fetched_files(job) == []


def test_it_writes_the_video_once_straight_into_storage(succeeded_upstream, upstream, monkeypatch):
    """No temporary copy: the storage gets the upstream's chunks as they come."""
    import tempfile

    def no_temp_files(*args, **kwargs):
        raise AssertionError("a temporary copy of the video was made")

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", no_temp_files)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_temp_files)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_temp_files)
    upstream.on("/out/v.mp4", video())
    services.job_fetch(job_id=succeeded_upstream.id)
    assert Job.objects.get().status == JobStatus.SUCCEEDED


def test_it_never_keeps_the_sandboxs_broken_video_as_a_success(
    sandbox, owner, team, diving, settings, enqueued
):
    """Against the sandbox upstream: a `badvideo` key's result does not decode."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import make_image
    from videos.services import MediaInput, job_create, key_store

    settings.JOB_FETCH_MAX_ATTEMPTS = 2
    key = key_store(user=owner, label="broken", secret="sk-demo-badvideo-gen0")
    job = job_create(
        team=team,
        user=owner,
        template=diving,
        text_inputs=[],
        media_inputs=[MediaInput(upload=SimpleUploadedFile("me.png", make_image()))],
        key_id=key.pk,
    )
    services.job_submit(job_id=job.id)
    for _attempt in range(2):
        services.job_poll(job_id=job.id, force=True)
        services.job_fetch(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "does not decode" in job.error_message
    assert job.events.filter(kind="error", message__contains="does not decode").count() == 1
    assert not job.attachments.filter(kind__in=["result", "frame"]).exists()
    assert fetched_files(job) == []
