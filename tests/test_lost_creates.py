"""A create whose answer was lost is ambiguous, never a reason to pay upstream twice: the
task a push names is adopted once the job's own key can see it; a forged one is ignored."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import make_image
from tests.support import wait_for
from videos.models import EventKind, Job, JobStatus
from videos.providers.base import CallbackHint
from videos.services import MediaInput, job_create, job_record_callback, key_store


def create(owner, team, diving, secret: str) -> Job:
    key = key_store(user=owner, label=secret, secret=secret)
    return job_create(
        team=team,
        user=owner,
        template=diving,
        text_inputs=[],
        media_inputs=[MediaInput(upload=SimpleUploadedFile("me.png", make_image()))],
        key_id=key.pk,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_adopts_the_task_a_push_names_when_the_create_answer_is_lost(
    live_server, sandbox, settings, owner, team, diving, sync_queue
):
    settings.PUBLIC_BASE_URL = live_server.url
    # The sandbox makes the task, then answers in 3 s: we give up waiting after 1 s.
    settings.UPSTREAM_CREATE_TIMEOUT = (2, 1)
    job = create(owner, team, diving, "sk-lost-slowcreate-gen2")

    def adopted():
        job.refresh_from_db()
        return job.status in (JobStatus.PROCESSING, JobStatus.SUCCEEDED) and job

    wait_for(adopted, timeout=20, what="the pushed task to be adopted")
    (task,) = sandbox.tasks()  # one paid task, not two
    assert job.upstream_task_id == task["task_id"]
    assert job.events.filter(message__startswith="Found the task").count() == 1
    assert job.submit_attempts == 1


def test_it_ignores_a_push_naming_a_task_the_jobs_key_cannot_see(
    make_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    from tests.fakes import code
    from videos.services import job_adopt

    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUBMITTING, submit_attempts=1, submitting_since=job.created_at
    )
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        job_record_callback(job=job, hint=CallbackHint(task_id="T-forged", raw_status="success"))
    assert ("videos.tasks.adopt_job", (str(job.id),), {"task_id": "T-forged"}) in enqueued
    upstream.on("/v1/query/video_template_generation", code(2013, "task not found"))
    job_adopt(job_id=job.id, task_id="T-forged")
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMITTING and job.upstream_task_id == ""
    assert job.events.filter(kind=EventKind.NOTE, message__contains="cannot see").exists()


def test_it_does_not_adopt_for_a_job_that_never_tried_to_create(
    make_job, enqueued, django_capture_on_commit_callbacks
):
    job = make_job()  # queued, never submitted: no create is open
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        job_record_callback(job=job, hint=CallbackHint(task_id="T9", raw_status="success"))
    assert enqueued == []
