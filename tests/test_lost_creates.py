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


# A push named the task while the create's answer was lost, but the adopt task could not
# confirm it (the upstream's query failed just then): the retry must follow that task, never
# pay for a second one (found by the chaos run once the dispatcher retried on the dot).
CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"


def lost_create_with_a_push(job, upstream) -> None:
    from requests import ConnectionError as Down

    from tests.fakes import code
    from videos.services import job_adopt, job_submit

    upstream.on(CREATE, Down("the answer never came"))
    upstream.on(QUERY, code(1000, "busy"))  # transient: the adopt task gives up for now
    job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.upstream_data.get("ambiguous_since")
    job_record_callback(job=job, hint=CallbackHint(task_id="T-77", raw_status="processing"))
    job_adopt(job_id=job.id, task_id="T-77")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.upstream_task_id == ""
    Job.objects.filter(pk=job.pk).update(next_attempt_at=job.created_at)  # the retry is due
    upstream.calls.clear()
    upstream.answers.clear()


def test_it_follows_the_task_a_push_named_when_it_retries_a_lost_create(
    make_job, upstream, enqueued
):
    from tests.fakes import ok
    from videos.services import job_submit

    job = make_job()
    lost_create_with_a_push(job, upstream)
    upstream.on(QUERY, ok(task_id="T-77", status="Processing"))
    job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.upstream_task_id == "T-77"
    assert upstream.calls_to(CREATE) == []  # nothing paid for twice
    assert job.events.filter(message__startswith="Found the task").count() == 1


def test_it_waits_rather_than_creates_again_while_the_pushed_task_cannot_be_checked(
    make_job, upstream, enqueued
):
    from tests.fakes import code
    from videos.services import job_submit

    job = make_job()
    lost_create_with_a_push(job, upstream)
    upstream.on(QUERY, code(1000, "busy"))
    job_submit(job_id=job.id)
    job.refresh_from_db()
    assert upstream.calls_to(CREATE) == []
    assert job.status == JobStatus.QUEUED and job.upstream_data.get("ambiguous_since")
    assert job.upstream_task_id == ""
