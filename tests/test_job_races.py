"""Defects a review found in the job life cycle, each shown by a test first, then fixed:
stale answers, stale attempts, rate limits, surprises in submit, adoption and cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ProviderKey
from billing.models import LedgerEntry
from tests.fakes import FakeResponse, code, ok
from videos import services
from videos.models import EventKind, Job, JobStatus
from videos.providers import provider_for
from videos.providers.base import CallbackHint, Progress, State, Submitted
from videos.services import follow
from videos.services.pool import AMBIGUOUS

CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"


def processing(job, task_id="T1") -> Job:
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, upstream_task_id=task_id, submitted_at=now, next_attempt_at=now
    )
    job.refresh_from_db()
    return job


def due(job) -> None:
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())


def kinds(job) -> list[str]:
    return list(
        LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", flat=True)
    )


def test_it_drops_a_slow_answer_to_an_older_look(make_job, enqueued):
    job = processing(make_job())
    older = follow._claim_poll(job.id, force=True)
    newer = follow._claim_poll(job.id, force=True)
    follow.job_apply_progress(
        job=newer, progress=Progress(State.SUCCEEDED, "Success", data={"video_url": "https://v"})
    )
    follow.job_apply_progress(job=older, progress=Progress(State.RUNNING, "Processing"))
    job.refresh_from_db()
    assert job.upstream_state == "succeeded" and job.progress == 90


def test_it_does_not_fail_a_job_a_push_adopted_while_a_retry_was_refused(
    make_job, upstream, monkeypatch, enqueued
):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(upstream_data={AMBIGUOUS: timezone.now().isoformat()})
    upstream.on(QUERY, ok(task_id="V-first", status="Processing"))

    def refused_while_a_push_is_adopted(credentials, request):
        services.job_adopt(job_id=job.id, task_id="V-first")
        from videos.providers.errors import InsufficientBalance

        raise InsufficientBalance("1008", "The upstream account has insufficient balance.")

    monkeypatch.setattr(provider_for("minimax"), "submit", refused_while_a_push_is_adopted)
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.upstream_task_id == "V-first"
    assert kinds(job) == ["reserve"]


def test_it_keeps_waiting_its_turn_through_many_rate_limits(make_job, upstream, settings):
    settings.JOB_SUBMIT_MAX_ATTEMPTS = 3
    job = make_job()
    upstream.on(CREATE, code(1002, "rate limit"))
    for _ in range(8):
        due(job)
        # Each refusal rests the key; here the rest is over by the next try.
        ProviderKey.objects.update(cooling_until=None)
        services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.submit_attempts == 8
    upstream.answers.clear()
    upstream.on(CREATE, ok(task_id="T-finally"))
    due(job)
    ProviderKey.objects.update(cooling_until=None)
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.upstream_task_id == "T-finally"


def test_it_gives_up_on_rate_limits_only_after_the_longest_wait(make_job, upstream, settings):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=2))
    upstream.on(CREATE, code(1002, "rate limit"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "waiting" in job.error_message
    assert kinds(job) == ["reserve", "release"]


def test_it_never_leaves_a_job_submitting_after_a_surprise(make_job, monkeypatch):
    job = make_job()

    def broken(credentials, request):
        raise OSError("the storage hiccuped")

    monkeypatch.setattr(provider_for("minimax"), "submit", broken)
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    # Whether the create went out is unknown: it is looked for before being sent again.
    assert job.upstream_data[AMBIGUOUS]


def test_it_does_not_adopt_a_task_another_job_follows(make_job, upstream, monkeypatch):
    other = processing(make_job(), task_id="V-shared")
    job = make_job()
    Job.objects.filter(pk=job.pk).update(upstream_data={AMBIGUOUS: timezone.now().isoformat()})
    monkeypatch.setattr(
        provider_for("minimax"),
        "find_lost",
        lambda credentials, **kwargs: Submitted(task_id="V-shared"),
    )
    upstream.on(CREATE, ok(task_id="V-own"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.upstream_task_id == "V-own" and other.upstream_task_id == "V-shared"
    assert job.events.filter(message__contains="belongs to another job").exists()


def test_it_calls_back_a_task_made_after_its_job_was_canceled(
    make_job, monkeypatch, enqueued, django_capture_on_commit_callbacks
):
    from videos.services import submit

    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUBMITTING, submit_attempts=1)
    job.refresh_from_db()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.CANCELED, finished_at=timezone.now()
    )  # canceled while the create was out
    with django_capture_on_commit_callbacks(execute=True):
        submit._accept(job, Submitted(task_id="V-late"), {"submit_attempts": 1})
    job.refresh_from_db()
    assert job.upstream_task_id == "V-late"
    assert ("videos.tasks.cancel_upstream", (str(job.id),), {}) in enqueued


def test_it_ignores_a_push_that_names_another_jobs_reference(make_job, enqueued):
    job = processing(make_job())
    enqueued.clear()
    services.job_record_callback(
        job=job, hint=CallbackHint(task_id="T1", raw_status="2", reference="someone-else")
    )
    assert not job.events.filter(kind=EventKind.CALLBACK).exists()


def test_it_submits_a_queued_job_that_lost_its_time(make_job, upstream):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(next_attempt_at=None)
    upstream.on(CREATE, ok(task_id="T-null"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING


def test_it_keeps_the_upstreams_last_word_on_a_failed_job(make_job, upstream):
    job = processing(make_job())
    upstream.on(QUERY, ok(task_id="T1", status="Fail", video_url=""))
    services.job_poll(job_id=job.id, force=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert (job.upstream_state, job.upstream_status) == ("failed", "Fail")


def test_it_waits_as_long_as_a_rate_limited_query_says(make_job, upstream):
    job = processing(make_job())
    upstream.on(QUERY, FakeResponse(status_code=429, body={}, headers={"Retry-After": "900"}))
    services.job_poll(job_id=job.id, force=True)
    job.refresh_from_db()
    assert job.next_attempt_at >= timezone.now() + timedelta(seconds=850)


@pytest.mark.parametrize("kind", ["image", "poster"])
def test_it_refuses_an_svg_as_an_image_made_on_the_way(make_job, upstream, kind):
    from videos.models import Attachment, AttachmentKind
    from videos.services.artifacts import attachment_fetch

    job = processing(make_job())
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    upstream.on("/evil.svg", FakeResponse(content=svg, headers={"Content-Type": "image/svg+xml"}))
    attachment = Attachment.objects.create(
        job=job, kind=AttachmentKind(kind), position=0, source_url="https://cdn.example/evil.svg"
    )
    attachment_fetch(attachment_id=attachment.pk)
    attachment.refresh_from_db()
    assert not attachment.file
    assert not job.events.filter(kind=EventKind.IMAGE).exists()
