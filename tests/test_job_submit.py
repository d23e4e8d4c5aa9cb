from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.models import KeyStatus
from tests.fakes import TIMEOUT, FakeResponse, code, ok
from videos import services
from videos.models import Job, JobStatus

CREATE = "/v1/video_template_generation"


def test_it_sends_the_job_and_keeps_the_task_id(make_job, upstream, png, key):
    job = make_job()
    upstream.on(CREATE, ok(task_id="401047179385389059"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    assert job.upstream_task_id == "401047179385389059"
    assert job.submitted_at is not None and job.next_attempt_at > timezone.now()
    (call,) = upstream.calls_to(CREATE)
    assert call["headers"]["Authorization"] == "Bearer sk-test-owner-secret-5678"
    body = call["json"]
    assert body["template_id"] == "392747428568649728"
    assert body["media_inputs"] == [
        {"value": "data:image/png;base64," + base64.b64encode(png).decode()}
    ]
    assert "callback_url" not in body and "text_inputs" not in body
    assert call["timeout"] == (5, 60)  # a create waits longer than a query (ambiguity)
    assert list(job.events.values_list("status", flat=True)) == [
        "queued",
        "submitting",
        "processing",
    ]


def test_it_sends_a_callback_url_and_image_urls_when_reachable(make_job, upstream, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example"
    job = make_job()
    upstream.on(CREATE, ok(task_id="1"))
    services.job_submit(job_id=job.id)
    body = upstream.calls_to(CREATE)[0]["json"]
    assert body["callback_url"] == f"https://portal.example/callbacks/minimax/{job.callback_token}/"
    assert body["media_inputs"][0]["value"].startswith("https://portal.example/inputs/")


def test_it_does_nothing_on_a_second_submit(make_job, upstream):
    job = make_job()
    upstream.on(CREATE, ok(task_id="1"))
    services.job_submit(job_id=job.id)
    services.job_submit(job_id=job.id)
    assert len(upstream.calls_to(CREATE)) == 1
    assert Job.objects.get().upstream_task_id == "1"


def test_it_does_not_submit_a_canceled_or_not_yet_due_job(make_job, upstream):
    canceled = make_job()
    services.job_cancel(job=canceled)
    later = make_job()
    Job.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    services.job_submit(job_id=canceled.id)
    services.job_submit(job_id=later.id)
    assert upstream.calls == []


@pytest.mark.parametrize(
    "answer",
    [
        code(1000),
        code(1001),
        code(1002),
        code(1024),
        code(1033),
        code(2045),
        FakeResponse(status_code=502, body={}),
        FakeResponse(status_code=429, body={}),
        TIMEOUT("read timed out"),
    ],
)
def test_it_requeues_with_backoff_on_a_transient_error(make_job, upstream, answer):
    job = make_job()
    upstream.on(CREATE, answer)
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.submit_attempts == 1
    assert job.next_attempt_at > timezone.now() + timedelta(seconds=8)
    assert job.events.last().kind == "error"


def test_it_retries_then_succeeds(make_job, upstream):
    job = make_job()
    upstream.on(CREATE, code(1033), ok(task_id="77"))
    services.job_submit(job_id=job.id)
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.upstream_task_id, job.submit_attempts) == ("processing", "77", 2)


def test_it_backs_off_longer_each_time(make_job, upstream):
    job = make_job()
    upstream.on(CREATE, code(1001))
    delays = []
    for _ in range(3):
        before = timezone.now()
        Job.objects.filter(pk=job.pk).update(next_attempt_at=before)
        services.job_submit(job_id=job.id)
        job.refresh_from_db()
        delays.append((job.next_attempt_at - before).total_seconds())
    assert delays[0] < delays[1] < delays[2]


def test_it_gives_up_after_the_last_attempt(make_job, upstream, settings):
    settings.JOB_SUBMIT_MAX_ATTEMPTS = 2
    job = make_job()
    upstream.on(CREATE, code(1024))
    for _ in range(2):
        Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
        services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "1024" and "Gave up after 2 attempts" in job.error_message


@pytest.mark.parametrize(
    ("status_code", "words"),
    [
        (1008, "insufficient balance"),
        (1026, "sensitive"),
        (1027, "sensitive"),
        (2013, "parameters"),
    ],
)
def test_it_fails_for_good_on_a_permanent_error(make_job, upstream, key, status_code, words):
    job = make_job()
    upstream.on(CREATE, code(status_code, "detail"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    key.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert job.error_code == str(status_code) and words in job.error_message
    assert key.status == KeyStatus.ACTIVE


@pytest.mark.parametrize("status_code", [1004, 2049])
def test_it_marks_a_rejected_key_invalid(make_job, upstream, key, status_code):
    job = make_job()
    upstream.on(CREATE, code(status_code))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    key.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert key.status == KeyStatus.INVALID and "key" in key.status_reason


def test_it_fails_a_job_whose_key_went_invalid_while_queued(make_job, upstream, key):
    job = make_job()
    key.status = KeyStatus.INVALID
    key.save()
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "no_usable_key"
    assert upstream.calls == []


def test_it_follows_a_late_answer_when_the_requeued_job_was_not_taken_up(make_job, upstream):
    def requeue(job):
        Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, submitting_since=None)

    upstream.request = _answering(upstream, requeue)
    job = make_job()
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.upstream_task_id) == (JobStatus.PROCESSING, "LATE")


def test_it_does_not_touch_a_job_another_attempt_owns_now(make_job, upstream):
    def taken_over(job):
        Job.objects.filter(pk=job.pk).update(submit_attempts=F("submit_attempts") + 1)

    upstream.request = _answering(upstream, taken_over)
    job = make_job()
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.upstream_task_id, job.submit_attempts) == (
        JobStatus.SUBMITTING,
        "",
        2,
    )
    note = job.events.last()
    assert note.kind == "note" and "LATE" in note.message


def test_it_does_not_fail_a_job_another_attempt_owns_on_a_late_refusal(make_job, upstream):
    job = make_job()

    def refuse_late(*args, **kwargs):
        Job.objects.filter(pk=job.pk).update(submit_attempts=F("submit_attempts") + 1)
        return code(2013)

    upstream.request = refuse_late
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMITTING and job.error_code == ""


def _answering(upstream, meanwhile):
    """An upstream whose create answers task LATE only after `meanwhile(job)` happened."""

    def request(method, url, **kwargs):
        job = Job.objects.get()
        meanwhile(job)
        return ok(task_id="LATE")

    return request


def test_it_sends_the_job_without_a_callback_when_the_challenge_fails(
    owner, team, diving, png, sandbox, settings, enqueued, django_capture_on_commit_callbacks
):
    # Nobody answers the challenge at this address (our web tier was slow, say): MiniMax
    # refuses with 2013 "callback_url verification failed". Not the job's end.
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"
    key = services.key_store(user=owner, label="cb", secret="sk-cb-test-1111")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(
            team=team,
            user=owner,
            template=diving,
            text_inputs=[],
            media_inputs=[services.MediaInput(upload=SimpleUploadedFile("a.png", png))],
            key_id=key.pk,
        )
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.upstream_data["no_callback"] is True
    assert "without a callback" in job.events.filter(kind="error").last().message
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    (task,) = sandbox.tasks()
    assert task["callback_url"] is None  # polling follows it
