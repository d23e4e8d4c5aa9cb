"""Following a processing job: re-query on a backoff schedule (the backstop when pushes never
come), treat upstream pushes as hints, and hand a finished task to the fetch step.

Nothing waits for the upstream: a job that is not ready gets a `next_attempt_at`, and the
sweeper (videos.tasks.sweep) hands it out again when it is due. A local clock is never an
upstream outcome: an overdue job is asked about less often, never failed on our clock alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.vault import VaultError
from videos.models import EventKind, Job, JobStatus
from videos.providers.base import CallbackHint, Progress, State
from videos.providers.errors import PermanentError, TransientError
from videos.queue import enqueue
from videos.services.artifacts import record_artifacts
from videos.services.fetch import job_fetch
from videos.services.pool import AMBIGUOUS
from videos.services.submit import fail_permanently
from videos.services.transitions import (
    DUE_SLACK,
    credentials_for,
    event,
    job_fail,
    merged,
    poll_interval,
    provider_of,
)

logger = logging.getLogger("videos.services")

# The bar, by stage, where the upstream gives no percentage.
STAGE_PROGRESS = {State.PENDING: 15, State.RUNNING: 40, State.SUCCEEDED: 90}


def _claim_poll(job_id, *, force: bool) -> Job | None:
    """Take the next look at a processing job; pushes its next look forward first."""
    job = Job.objects.select_related("key").filter(pk=job_id, status=JobStatus.PROCESSING).first()
    # DUE_SLACK: the dispatcher handed it out by its host's clock, which may run a little ahead.
    not_due = job and job.next_attempt_at and job.next_attempt_at > timezone.now() + DUE_SLACK
    if job is None or (not force and not_due):
        return None
    interval = poll_interval(job.poll_count + 1)
    if job.submitted_at and timezone.now() - job.submitted_at > timedelta(
        seconds=settings.JOB_SLOW_POLL_AFTER_SECONDS
    ):
        # Overdue, but a local clock is not an upstream outcome: keep asking, less often.
        interval = settings.JOB_SLOW_POLL_SECONDS
    next_at = timezone.now() + timedelta(seconds=interval)
    claimed = Job.objects.filter(
        pk=job.pk, status=JobStatus.PROCESSING, poll_count=job.poll_count
    ).update(next_attempt_at=next_at, poll_count=F("poll_count") + 1, updated_at=timezone.now())
    if not claimed:
        return None
    job.poll_count += 1  # this look's number: its answer is applied only if it is the newest
    return job


def job_poll(*, job_id, force: bool = False) -> None:
    """Ask the upstream about a processing job; `force` when a push hinted at news."""
    job = _claim_poll(job_id, force=force)
    if job is None:
        return
    if job.key is None:
        job_fail(job.id, code="key_missing", message="The vault key for this job was deleted.")
        return
    try:
        progress = provider_of(job).status(
            credentials_for(job.key), job.upstream_task_id, job.upstream_data
        )
        fetch_due = job_apply_progress(job=job, progress=progress)
    except TransientError as exc:
        logger.info("job %s: query failed transiently (%s); asking again later", job.id, exc)
        if exc.retry_after:
            # Rate-limited: the next look waits at least as long as the upstream asked.
            Job.objects.filter(
                pk=job.pk, status=JobStatus.PROCESSING, poll_count=job.poll_count
            ).update(next_attempt_at=timezone.now() + timedelta(seconds=exc.retry_after))
        return
    except VaultError as exc:
        job_fail(job.id, code="vault", message=str(exc))
        return
    except PermanentError as exc:
        fail_permanently(job, exc, from_statuses=[JobStatus.PROCESSING])
        return
    except Exception:
        logger.exception("job %s: a look failed unexpectedly", job.id)
        _poll_broke(job)
        return
    if fetch_due:
        # In this task rather than a task of its own: no second wait in the queue between
        # "ready" and stored. If this worker dies here, the job's next look (already
        # scheduled by the claim) sees the success again and fetches.
        job_fetch(job_id=job.id)


POLL_ERRORS = "poll_errors"


def _poll_broke(job: Job) -> None:
    """The next look (already scheduled by the claim) tries again; a job whose looks keep
    breaking ends after JOB_POLL_MAX_ERRORS instead of being asked about forever."""
    errors = int(job.upstream_data.get(POLL_ERRORS, 0)) + 1
    if errors >= settings.JOB_POLL_MAX_ERRORS:
        job_fail(
            job.id,
            code="poll_error",
            message=f"Checking on this job failed unexpectedly {errors} times.",
            from_statuses=[JobStatus.PROCESSING],
        )
        return
    Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
        upstream_data=merged(job.upstream_data, {POLL_ERRORS: errors})
    )


def _bar(job: Job, progress: Progress) -> int:
    if progress.percent is not None and progress.state is not State.SUCCEEDED:
        # The upstream's own figure, inside the part of the bar the generation takes.
        return 5 + round(min(100, max(0, progress.percent)) * 0.85)
    bar = STAGE_PROGRESS.get(progress.state, 0)
    if progress.state is State.RUNNING:
        # No percentage: creep forward so the bar shows life (an estimate, not a measurement).
        bar = min(85, bar + 5 * (job.poll_count - 1))
    return bar


def job_apply_progress(*, job: Job, progress: Progress) -> bool:
    """Record what a query said; True when it was a success this look recorded (the
    caller fetches the result next)."""
    provider = provider_of(job)
    # Only the newest look may write: a slow answer to an older look (a forced poll overtook
    # it) must not take a finished task back to "running".
    newest = {"status": JobStatus.PROCESSING, "poll_count": job.poll_count}
    if progress.state is State.FAILED:
        job_fail(
            job.id,
            code=progress.error_code or "upstream_failed",
            message=progress.message or f"{provider.label} could not generate this video.",
            from_statuses=[JobStatus.PROCESSING],
            upstream_state=progress.state.value,
            upstream_status=progress.raw_status[:40],
        )
        return False
    bar = _bar(job, progress)
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, **newest).update(
            upstream_state=progress.state.value,
            upstream_status=progress.raw_status[:40],
            upstream_data=merged(job.upstream_data, progress.data),
            progress=Greatest(F("progress"), bar),
            updated_at=timezone.now(),
        )
        if not moved:
            return False
        if progress.raw_status != job.upstream_status:
            event(
                job.id,
                EventKind.PROGRESS,
                f"{provider.label}: {progress.raw_status}",
                status=JobStatus.PROCESSING,
                upstream_status=progress.raw_status,
                progress=max(job.progress, bar),
            )
        record_artifacts(job, progress.artifacts)
    return progress.state is State.SUCCEEDED


def _ask_soon(job: Job, *, final: bool) -> None:
    """A push's hint: ask the upstream now, unless a push of its kind (progress, or "it
    ended") did so moments ago; then the job's next look comes when that moment is over
    (pushes coalesce, none is lost: replayed pushes make at most one look per window each)."""
    now = timezone.now()
    window = timedelta(seconds=settings.JOB_FORCED_POLL_MIN_SECONDS)
    if not final and job.next_attempt_at and job.next_attempt_at <= now + window:
        # News of progress, and the job's next look comes within the window anyway (the
        # first look after a submit, say): a look now would be one more task for a bar.
        return
    field = "forced_final_poll_at" if final else "forced_poll_at"
    claimed = (
        Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING)
        .filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now - window}))
        .update(**{field: now})
    )
    if claimed:
        # "It ended" goes before the queue's waiting work: that look is what ends the job.
        enqueue("videos.tasks.poll_job", job.id, force=True, ahead=final)
        return
    Job.objects.filter(
        pk=job.pk, status=JobStatus.PROCESSING, next_attempt_at__gt=now + window
    ).update(next_attempt_at=now + window)


def job_record_callback(*, job: Job, hint: CallbackHint) -> None:
    """A push from the upstream is a hint, never the outcome: record it and re-query.

    A push naming a task for a job whose create is still open (in flight, or ambiguous) is
    how a lost create answer is found again (videos.services.submit.job_adopt).
    """
    provider = provider_of(job)
    if hint.reference and hint.reference != str(job.id):
        logger.warning("job %s: a push for reference %r ignored", job.id, hint.reference[:60])
        return
    # No transaction (the push path is hot: two statements, not four): the event and the
    # claim each stand alone, and a crash between them leaves the job's scheduled look.
    event(
        job.id,
        EventKind.CALLBACK,
        f"{provider.label} pushed: {hint.raw_status or 'an update'}",
        upstream_status=hint.raw_status,
        task_id=hint.task_id,
    )
    open_create = job.status == JobStatus.SUBMITTING or (
        job.status == JobStatus.QUEUED and job.upstream_data.get(AMBIGUOUS)
    )
    if job.status == JobStatus.PROCESSING:
        _ask_soon(job, final=hint.final)  # enqueues once the claim is committed
    elif open_create and hint.task_id and not job.upstream_task_id:
        enqueue("videos.tasks.adopt_job", job.id, task_id=hint.task_id)
