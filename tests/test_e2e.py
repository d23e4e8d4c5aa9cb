"""End to end: a real qcluster process, the sandbox upstream, callbacks to a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import make_image
from tests.support import qcluster, wait_for
from videos.models import Job, JobStatus
from videos.services import MediaInput, job_create, key_store

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SAMPLE = Path(__file__).resolve().parent.parent / "sandbox" / "assets" / "sample.mp4"


def create_job(owner, team, diving, secret: str) -> Job:
    key = key_store(user=owner, label=secret, secret=secret)
    return job_create(
        team=team,
        user=owner,
        template=diving,
        text_inputs=[],
        media_inputs=[
            MediaInput(upload=SimpleUploadedFile("me.jpg", make_image(800, 600, "JPEG")))
        ],
        key_id=key.pk,
    )


def finished(job: Job):
    job.refresh_from_db()
    return job.status in JobStatus.terminal() and job


def test_it_makes_a_video_with_a_real_cluster_and_callbacks(
    live_server, sandbox, settings, owner, team, diving
):
    settings.PUBLIC_BASE_URL = live_server.url
    job = create_job(owner, team, diving, "sk-e2e-gen1")
    with qcluster():
        wait_for(lambda: finished(job), what="the job to finish")
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result = job.result
    assert result.bytes == SAMPLE.stat().st_size
    with result.file.open("rb") as stored:  # local media/ or S3, whichever this leg runs
        assert stored.read() == SAMPLE.read_bytes()
    assert result.duration_s == pytest.approx(3.0, abs=0.1)
    statuses = [s for s in job.events.values_list("status", flat=True) if s]
    assert statuses[:3] == ["queued", "submitting", "processing"]
    assert statuses[-1] == "succeeded"
    # The sandbox pushed to our callback view and we recorded the hints.
    assert job.events.filter(kind="callback").exists()
    (task,) = sandbox.tasks()
    assert task["task_id"] == job.upstream_task_id and task["callback_url"].startswith(
        live_server.url
    )


def test_it_retries_a_flaky_upstream_and_fails_a_failed_task(sandbox, owner, team, diving):
    from django.utils import timezone

    flaky = create_job(owner, team, diving, "sk-e2e-flaky1033-gen0")
    failing = create_job(owner, team, diving, "sk-e2e-fail-gen0")
    with qcluster():
        # The flaky job went back to queued; make its retry due now instead of in ~10 s.
        wait_for(
            lambda: (
                Job.objects.filter(pk=flaky.pk, submit_attempts=1, status="queued").exists()
                or finished(flaky)
            ),
            what="the first, failed attempt",
        )
        Job.objects.filter(pk=flaky.pk, status="queued").update(next_attempt_at=timezone.now())
        from videos.services import jobs_sweep

        def swept_until(job):
            jobs_sweep()
            return finished(job)

        wait_for(lambda: swept_until(flaky), what="the flaky job")
        wait_for(lambda: swept_until(failing), what="the failing job")
    assert flaky.status == JobStatus.SUCCEEDED and flaky.submit_attempts == 2
    assert failing.status == JobStatus.FAILED and failing.error_code == "upstream_failed"
