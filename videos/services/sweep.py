"""The sweeper and the reconciler: once a minute, hand out every due action and recover
jobs whose worker died, so nothing is lost between a commit and the broker."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from videos.models import Job, JobStatus
from videos.queue import enqueue
from videos.services.submit import counted_attempts, mark_ambiguous
from videos.services.transitions import job_fail


def jobs_sweep() -> dict[str, int]:
    now = timezone.now()
    counts = {"submit": 0, "poll": 0, "requeued": 0, "failed": 0}
    stuck_before = now - timedelta(seconds=settings.JOB_SUBMITTING_STUCK_SECONDS)
    for job in Job.objects.filter(status=JobStatus.SUBMITTING, submitting_since__lt=stuck_before):
        counts[_reconcile_submitting(job)] += 1

    # No time at all is a bug's leftover, never a reason to forget a job: hand it out too.
    due = Job.objects.filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True))
    for job_id in due.filter(status=JobStatus.QUEUED).values_list("pk", flat=True):
        enqueue("videos.tasks.submit_job", job_id)
        counts["submit"] += 1
    for job_id in due.filter(status=JobStatus.PROCESSING).values_list("pk", flat=True):
        enqueue("videos.tasks.poll_job", job_id)
        counts["poll"] += 1
    return counts


def _reconcile_submitting(job: Job) -> str:
    # The worker died between claiming and recording the answer: the create may have reached
    # the upstream, so the job's next turn looks for its task before creating another.
    if counted_attempts(job) >= settings.JOB_SUBMIT_MAX_ATTEMPTS:
        job_fail(
            job.id,
            code="stuck",
            message="Submission was interrupted too many times.",
            from_statuses=[JobStatus.SUBMITTING],
        )
        return "failed"
    mark_ambiguous(job)
    return "requeued"
