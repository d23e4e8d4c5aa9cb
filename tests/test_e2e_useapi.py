"""End to end through useapi.net: a real qcluster process and the sandbox's useapi flavour
(file upload, the agent-create event stream, polling, replyUrl posts to a live server)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import ProviderKey
from billing.models import LedgerEntry
from tests.conftest import ART_FONTS, DIVING, make_image
from tests.support import qcluster, wait_for
from videos.models import Attachment, AttachmentKind, Job, JobStatus, VideoTemplate
from videos.services import MediaInput, job_create, jobs_sweep, key_store, templates_sync

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def useapi_catalogue(sandbox, owner, catalogue):
    """The useapi templates, read from the sandbox's listing as `sync_templates` does."""
    key = key_store(user=owner, label="catalogue", secret="user:9-e2e-catalogue", provider="useapi")
    templates_sync(provider="useapi", key_id=key.pk)
    return VideoTemplate.objects.filter(provider="useapi", is_active=True)


def create_job(owner, team, template, secret: str, **inputs) -> Job:
    key = key_store(user=owner, label=secret, secret=secret, provider="useapi")
    media = [
        MediaInput(upload=SimpleUploadedFile("me.jpg", make_image(800, 600, "JPEG")))
        for _ in range(template.media_inputs)
    ]
    return job_create(
        team=team,
        user=owner,
        template=template,
        text_inputs=inputs.get("texts", []),
        media_inputs=media,
        key_id=key.pk,
    )


def finished(job: Job):
    job.refresh_from_db()
    return job.status in JobStatus.terminal() and job


def swept_until_finished(job: Job):
    # The once-a-minute sweeper, run here more often: it hands out the due polls.
    jobs_sweep()
    return finished(job)


def test_it_makes_videos_from_an_image_and_from_a_text(
    live_server, sandbox, settings, owner, team, useapi_catalogue
):
    settings.PUBLIC_BASE_URL = live_server.url
    diving = useapi_catalogue.get(template_id=DIVING)
    art_fonts = useapi_catalogue.get(template_id=ART_FONTS)
    image_job = create_job(owner, team, diving, "user:9-e2e-gen1")
    text_job = create_job(owner, team, art_fonts, "user:9-e2e-text-gen1", texts=["Hello"])
    with qcluster():
        wait_for(lambda: finished(image_job) and finished(text_job), what="both jobs")
        # The poster and the images made on the way are downloaded by their own tasks.
        wait_for(
            lambda: (
                not Attachment.objects.filter(
                    job=image_job, kind__in=[AttachmentKind.IMAGE, AttachmentKind.POSTER], file=""
                ).exists()
            ),
            what="the images of the job",
        )
    for job in (image_job, text_job):
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        assert job.provider == "useapi"
        with job.result.file.open("rb") as stored:
            assert stored.read() == sandbox.video
        assert job.result.duration_s == pytest.approx(3.0, abs=0.1)
        kinds = list(LedgerEntry.objects.filter(job_id=job.id).values_list("kind", flat=True))
        assert sorted(kinds) == ["capture", "reserve"]
    # The image was uploaded once and its reference kept on the input.
    (upload,) = image_job.attachments.filter(kind=AttachmentKind.INPUT)
    assert upload.upstream_ref["fileID"].startswith("user:9-minimax:")
    # One upstream video per job, each with our job id as its replyRef.
    refs = sorted(v["replyRef"] for v in sandbox.useapi_videos())
    assert refs == sorted([str(image_job.id), str(text_job.id)])
    # The stream was closed once the video id came (no worker waits minutes on it); the
    # poster came from polling and is stored, and on the timeline.
    assert image_job.events.filter(kind="image", message="Poster").count() == 1
    poster = image_job.attachments.get(kind=AttachmentKind.POSTER)
    with poster.file.open("rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    # useapi posted to our replyUrl and we took it as a hint.
    assert image_job.events.filter(kind="callback").exists()


def test_it_fails_a_moderated_video_and_releases_its_reservation(
    sandbox, owner, team, useapi_catalogue
):
    diving = useapi_catalogue.get(template_id=DIVING)
    job = create_job(owner, team, diving, "user:9-e2e-moderated-gen0.5")
    with qcluster(JOB_POLL_FIRST_SECONDS="1"):
        wait_for(lambda: swept_until_finished(job), what="the moderated job")
    assert job.status == JobStatus.FAILED and job.error_code == "moderated"
    assert "moderation" in job.error_message
    kinds = sorted(LedgerEntry.objects.filter(job_id=job.id).values_list("kind", flat=True))
    assert kinds == ["release", "reserve"]
    assert job.result is None


def test_it_waits_as_long_as_a_429_says_before_trying_again(settings, owner, team, catalogue):
    from sandbox.server import SandboxServer

    with SandboxServer(
        port=0, generation_seconds=0.5, heartbeat_seconds=0.2, useapi_retry_after=45
    ) as server:
        settings.USEAPI_BASE_URL = server.base_url
        settings.MINIMAX_BASE_URL = server.base_url
        key = key_store(user=owner, label="cat", secret="user:9-e2e-cat", provider="useapi")
        templates_sync(provider="useapi", key_id=key.pk)
        diving = VideoTemplate.objects.get(provider="useapi", template_id=DIVING)
        job = create_job(owner, team, diving, "user:9-e2e-flaky429-gen0.5")
        with qcluster():
            wait_for(
                lambda: Job.objects.filter(pk=job.pk, submit_attempts=1, status="queued").exists(),
                what="the refused first attempt",
            )
            job.refresh_from_db()
            # Retry-After: 45 is honoured (a backoff alone would wait about 10 s).
            assert job.next_attempt_at >= timezone.now() + timedelta(seconds=40)
            assert "45" in job.events.filter(kind="error").last().message
            # The key rests as long too; skip both waits (no test waits 45 s).
            cooling_until = ProviderKey.objects.get(pk=job.key_id).cooling_until
            assert cooling_until >= timezone.now() + timedelta(seconds=40)
            ProviderKey.objects.filter(pk=job.key_id).update(cooling_until=None, cooling_reason="")
            Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
            wait_for(lambda: swept_until_finished(job), what="the second attempt")
    assert job.status == JobStatus.SUCCEEDED and job.submit_attempts == 2
    assert len([v for v in server.useapi_videos() if v["replyRef"] == str(job.id)]) == 1
