"""Fetching: the finished video streamed into storage; processing -> succeeded exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.vault import VaultError
from videos import downloads
from videos.models import Attachment, AttachmentKind, EventKind, Job, JobStatus
from videos.providers.base import State
from videos.providers.errors import PermanentError, UpstreamError
from videos.services.transitions import (
    backoff_seconds,
    credentials_for,
    event,
    finish,
    job_fail,
    provider_of,
)

logger = logging.getLogger("videos.services")


def job_fetch(*, job_id) -> None:
    job = Job.objects.select_related("key").filter(pk=job_id, status=JobStatus.PROCESSING).first()
    if job is None or job.upstream_state != State.SUCCEEDED:
        return
    if job.fetch_attempts >= settings.JOB_FETCH_MAX_ATTEMPTS:
        job_fail(
            job.id,
            code="fetch",
            message=f"The video could not be downloaded in {job.fetch_attempts} attempts.",
            from_statuses=[JobStatus.PROCESSING],
        )
        return
    now = timezone.now()
    # A lease, not a lock: a forced poll may enqueue a second fetch while this one runs, and
    # if this worker dies the lease runs out and the next look hands the fetch out again.
    claimed = (
        Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING)
        .filter(Q(fetching_until__isnull=True) | Q(fetching_until__lt=now))
        .update(
            fetch_attempts=F("fetch_attempts") + 1,
            fetching_until=now + timedelta(seconds=settings.Q_CLUSTER["retry"]),
            updated_at=now,
        )
    )
    if not claimed:
        return  # another fetch of this job is running
    stored = None
    try:
        if job.key is None:
            raise VaultError("The vault key for this job was deleted.")
        stream = provider_of(job).open_result(
            credentials_for(job.key), job.upstream_task_id, job.upstream_data
        )
        stored = downloads.download(stream)
        _store_result(job, stored)
    except Exception as exc:
        # Whatever broke (upstream, network, storage), the job must not stay here forever:
        # every failure counts against JOB_FETCH_MAX_ATTEMPTS.
        if not isinstance(exc, UpstreamError | VaultError | downloads.DownloadError):
            logger.exception("job %s: fetch failed unexpectedly", job.id)
        _fetch_failed(job, exc)
    finally:
        if stored is not None:
            stored.close()


def _fetch_failed(job: Job, exc: Exception) -> None:
    message = getattr(exc, "message", None) or type(exc).__name__
    attempts = job.fetch_attempts + 1
    if attempts >= settings.JOB_FETCH_MAX_ATTEMPTS or isinstance(exc, PermanentError):
        job_fail(
            job.id,
            code="fetch",
            message=f"The video could not be downloaded: {message}",
            from_statuses=[JobStatus.PROCESSING],
        )
        return
    delay = backoff_seconds(attempts, base=15, cap=600)
    # Forgetting the outcome makes the next look re-query, which hands out fresh result links.
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
            upstream_state="",
            upstream_status="",
            fetching_until=None,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        if moved:
            event(
                job.id, EventKind.ERROR, f"Download failed ({message}); retrying in {int(delay)} s."
            )


def _store_result(job: Job, stored: downloads.Downloaded) -> None:
    attachment = Attachment(
        job=job,
        kind=AttachmentKind.RESULT,
        position=0,
        content_type=stored.content_type,
        bytes=stored.bytes,
        duration_s=stored.duration_s,
    )
    attachment.file.save("video.mp4", stored.file, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            if not finish(
                job.id,
                [JobStatus.PROCESSING],
                JobStatus.SUCCEEDED,
                message="Video ready",
                progress=100,
                error_code="",
                error_message="",
            ):
                raise IntegrityError("job already finished")
            event(
                job.id,
                EventKind.VIDEO,
                f"Video stored ({stored.bytes / 1024:.0f} KB"
                + (f", {stored.duration_s:.1f} s)" if stored.duration_s else ")"),
                status=JobStatus.SUCCEEDED,
                bytes=stored.bytes,
                content_type=stored.content_type,
                duration_s=stored.duration_s,
            )
    except IntegrityError:
        # Someone else finished this job first: drop our copy, keep theirs.
        attachment.file.delete(save=False)
        logger.info("job %s: second fetch discarded", job.id)
