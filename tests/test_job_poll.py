from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import KeyStatus
from tests.fakes import MP4, TIMEOUT, FakeResponse, code, ok
from videos import services
from videos.models import Job, JobStatus

QUERY = "/v1/query/video_template_generation"


@pytest.fixture
def processing(make_job, enqueued):
    job = make_job()
    enqueued.clear()
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, upstream_task_id="T1", submitted_at=now, next_attempt_at=now
    )
    job.refresh_from_db()
    return job


def poll(job, **kwargs):
    services.job_poll(job_id=job.id, **kwargs)
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(
    ("raw", "progress"), [("Preparing", 15), ("Processing", 40), ("processing", 40)]
)
def test_it_records_progress_and_asks_again_later(processing, upstream, enqueued, raw, progress):
    upstream.on(QUERY, ok(task_id="T1", status=raw, video_url=""))
    job = poll(processing)
    assert job.status == JobStatus.PROCESSING
    assert (job.upstream_status, job.progress, job.poll_count) == (raw, progress, 1)
    assert job.next_attempt_at > timezone.now()
    assert upstream.calls_to(QUERY)[0]["params"] == {"task_id": "T1"}
    assert enqueued == []  # nothing to fetch yet


@pytest.mark.parametrize("raw", ["Success", "success", "SUCCESS"])
def test_it_fetches_a_success_in_the_same_look(processing, upstream, enqueued, raw):
    upstream.on(QUERY, ok(task_id="T1", status=raw, video_url="https://cdn.example/v.mp4"))
    upstream.on("/v.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    job = poll(processing)
    assert job.status == JobStatus.SUCCEEDED
    assert job.upstream_state == "succeeded"
    assert job.upstream_data["video_url"] == "https://cdn.example/v.mp4"
    assert job.result.file.read() == MP4
    assert enqueued == []  # no second task (and no second wait in the queue) for the fetch


def test_it_leaves_a_fetch_that_broke_to_the_next_look(processing, upstream):
    upstream.on(QUERY, ok(task_id="T1", status="Success", video_url="https://cdn.example/v.mp4"))
    upstream.on("/v.mp4", TIMEOUT("read timed out"))
    job = poll(processing)
    # The outcome is forgotten so the next look re-queries (fresh result links) and fetches.
    assert job.status == JobStatus.PROCESSING and job.upstream_state == ""
    assert job.fetch_attempts == 1 and job.fetching_until is None
    assert job.next_attempt_at > timezone.now()


@pytest.mark.parametrize("raw", ["Fail", "failed", "FAIL"])
def test_it_fails_the_job_when_the_upstream_failed(processing, upstream, raw):
    upstream.on(QUERY, ok(task_id="T1", status=raw, video_url=""))
    job = poll(processing)
    assert job.status == JobStatus.FAILED
    assert job.error_code == "upstream_failed" and job.finished_at is not None


def test_it_keeps_asking_after_a_local_timeout(processing, upstream):
    upstream.on(QUERY, TIMEOUT("read timed out"))
    job = poll(processing)
    assert job.status == JobStatus.PROCESSING and job.upstream_task_id == "T1"
    assert job.next_attempt_at > timezone.now()


def test_it_keeps_asking_after_a_transient_code(processing, upstream):
    upstream.on(QUERY, code(1033))
    assert poll(processing).status == JobStatus.PROCESSING


def test_it_does_not_poll_before_the_job_is_due(processing, upstream):
    Job.objects.filter(pk=processing.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    poll(processing)
    assert upstream.calls == []


def test_it_polls_at_once_when_a_callback_forces_it(processing, upstream):
    Job.objects.filter(pk=processing.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    upstream.on(QUERY, ok(task_id="T1", status="Processing", video_url=""))
    assert poll(processing, force=True).upstream_status == "Processing"


def test_it_spaces_polls_out_up_to_a_cap(settings):
    intervals = [services.poll_interval(n) for n in range(12)]
    assert intervals[0] == settings.JOB_POLL_FIRST_SECONDS
    assert intervals == sorted(intervals)
    assert intervals[-1] == settings.JOB_POLL_MAX_SECONDS


def test_it_keeps_asking_an_overdue_job_less_often_but_never_gives_up(
    processing, upstream, settings
):
    overdue = timezone.now() - timedelta(seconds=settings.JOB_SLOW_POLL_AFTER_SECONDS + 1)
    Job.objects.filter(pk=processing.pk).update(submitted_at=overdue)
    upstream.on(QUERY, TIMEOUT("slow"), ok(task_id="T1", status="Processing", video_url=""))
    for _ in range(2):
        job = poll(processing, force=True)
        assert job.status == JobStatus.PROCESSING and job.upstream_task_id == "T1"
        wait = (job.next_attempt_at - timezone.now()).total_seconds()
        assert wait > settings.JOB_SLOW_POLL_SECONDS - 5


@pytest.mark.parametrize("status_code", [1004, 2049])
def test_it_marks_the_key_invalid_when_the_query_is_refused(processing, upstream, key, status_code):
    upstream.on(QUERY, code(status_code))
    job = poll(processing)
    key.refresh_from_db()
    assert job.status == JobStatus.FAILED and key.status == KeyStatus.INVALID


def test_it_fails_when_the_upstream_does_not_know_the_task(processing, upstream):
    upstream.on(QUERY, code(2013, "task not found"))
    job = poll(processing)
    assert job.status == JobStatus.FAILED and job.error_code == "2013"


def test_it_ignores_finished_jobs(processing, upstream):
    services.job_fail(processing.id, code="x", message="gone")
    poll(processing)
    assert upstream.calls == []


def test_it_moves_the_progress_bar_forward_while_processing(processing, upstream):
    upstream.on(QUERY, ok(task_id="T1", status="Processing", video_url=""))
    seen = []
    for _ in range(3):
        seen.append(poll(processing, force=True).progress)
    assert seen[0] < seen[1] < seen[2] <= 85
    # One timeline entry for the status change, not one per poll.
    assert processing.events.filter(kind="progress").count() == 1


def test_it_ends_a_job_whose_looks_keep_breaking_instead_of_asking_forever(
    processing, monkeypatch, settings
):
    from videos.providers import minimax

    def broken(*args, **kwargs):
        raise ValueError("a bug in reading the answer")

    monkeypatch.setattr(minimax.provider, "status", broken)
    for look in range(1, settings.JOB_POLL_MAX_ERRORS):
        job = poll(processing, force=True)
        assert job.status == JobStatus.PROCESSING, look  # tried again at the next look
        assert job.next_attempt_at > timezone.now() and job.poll_count == look
    job = poll(processing, force=True)
    assert job.status == JobStatus.FAILED and job.error_code == "poll_error"
