from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from videos import services
from videos.models import Job, JobStatus


def test_it_hands_out_due_submits_and_polls_once(
    make_job, enqueued, django_capture_on_commit_callbacks
):
    queued = make_job()
    processing = make_job()
    later = make_job()
    now = timezone.now()
    Job.objects.filter(pk=processing.pk).update(
        status=JobStatus.PROCESSING, upstream_task_id="T", submitted_at=now, next_attempt_at=now
    )
    Job.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=5))
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.jobs_sweep()
    assert counts == {"submit": 1, "poll": 1, "requeued": 0, "failed": 0}
    assert sorted(enqueued) == sorted(
        [
            ("videos.tasks.submit_job", (str(queued.id),), {}),
            ("videos.tasks.poll_job", (str(processing.id),), {}),
        ]
    )


def test_it_requeues_a_job_whose_worker_died_mid_submit(make_job, settings):
    job = make_job()
    stale = timezone.now() - timedelta(seconds=settings.JOB_SUBMITTING_STUCK_SECONDS + 5)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUBMITTING, submitting_since=stale, submit_attempts=1
    )
    counts = services.jobs_sweep()
    job.refresh_from_db()
    assert counts["requeued"] == 1
    assert job.status == JobStatus.QUEUED and job.submitting_since is None
    assert "interrupted" in job.events.last().message


def test_it_leaves_a_fresh_submit_alone(make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUBMITTING, submitting_since=timezone.now(), next_attempt_at=None
    )
    assert services.jobs_sweep()["requeued"] == 0
    assert Job.objects.get().status == JobStatus.SUBMITTING


def test_it_fails_a_job_interrupted_too_often(make_job, settings):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUBMITTING,
        submitting_since=timezone.now() - timedelta(hours=1),
        submit_attempts=settings.JOB_SUBMIT_MAX_ATTEMPTS,
    )
    assert services.jobs_sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "stuck"


def test_it_never_touches_finished_jobs(make_job, enqueued):
    job = make_job()
    services.job_cancel(job=job)
    enqueued.clear()
    assert services.jobs_sweep() == {"submit": 0, "poll": 0, "requeued": 0, "failed": 0}


def test_it_is_scheduled_every_minute(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="videos.sweep")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "videos.tasks.sweep",
        Schedule.MINUTES,
        1,
    )


def test_it_hands_out_a_job_that_lost_its_next_time(
    make_job, enqueued, django_capture_on_commit_callbacks
):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING,
        upstream_task_id="T",
        submitted_at=timezone.now(),
        next_attempt_at=None,
    )
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_sweep()["poll"] == 1
    assert enqueued == [("videos.tasks.poll_job", (str(job.id),), {})]
