"""Fetching: the finished video streamed into storage, checked by FFmpeg and given its poster
frame; processing -> succeeded exactly once.

The video is written once, straight from the upstream's response into the storage (no local
copy); FFmpeg then reads the stored file where it lies (a path, or ranged reads of the S3
object: videos.stored) for its duration, size and codec and the poster frame. A file that
does not decode counts as a failed download: retried with fresh links, then the job fails.
It never becomes a "succeeded" job with a broken video."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.vault import VaultError
from videos import downloads, media, stored
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
    storage: Storage = default_storage
    names: list[str] = []
    try:
        if job.key is None:
            raise VaultError("The vault key for this job was deleted.")
        stream = provider_of(job).open_result(
            credentials_for(job.key), job.upstream_task_id, job.upstream_data
        )
        video = downloads.store(stream, storage=storage, name=_file_name(job, "result", "mp4"))
        names.append(video.name)
        with stored.readable(storage, video.name) as source:
            facts, poster = media.inspect(source)
        poster_file = ContentFile(poster.data)
        poster_file.content_type = poster.content_type  # type: ignore[attr-defined]  # S3's type
        names.append(storage.save(_file_name(job, "frame", poster.ext), poster_file))
        if _store_result(job, video, facts, poster, poster_name=names[-1]):
            names.clear()  # kept
    except Exception as exc:
        # Whatever broke (upstream, network, storage, a file that does not decode), the job
        # must not stay here forever: every failure counts against JOB_FETCH_MAX_ATTEMPTS.
        if not isinstance(
            exc, UpstreamError | VaultError | downloads.DownloadError | media.NotAVideo
        ):
            logger.exception("job %s: fetch failed unexpectedly", job.id)
        _fetch_failed(job, exc)
    finally:
        for name in names:  # not kept: a failed attempt, or a second fetch that lost the race
            _delete_quietly(storage, name)


def _file_name(job: Job, kind: str, ext: str) -> str:
    # Random per attempt: two fetches racing never write (or delete) each other's file.
    return f"jobs/{job.team_id}/{job.id}/{kind}-{uuid.uuid4().hex[:12]}.{ext}"


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.warning("could not delete %s", name)


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


def _store_result(
    job: Job,
    video: downloads.Stored,
    facts: media.VideoFacts,
    poster: media.Poster,
    *,
    poster_name: str,
) -> bool:
    """The rows of the stored files, and the job's end, in one transaction; False when
    someone else finished the job first (the caller drops these files, theirs stay)."""
    try:
        with transaction.atomic():
            frame = Attachment.objects.create(
                job=job,
                kind=AttachmentKind.FRAME,
                position=0,
                file=poster_name,
                content_type=poster.content_type,
                bytes=len(poster.data),
                width=poster.width,
                height=poster.height,
            )
            Attachment.objects.create(
                job=job,
                kind=AttachmentKind.RESULT,
                position=0,
                file=video.name,
                content_type=video.content_type,
                bytes=video.bytes,
                width=facts.width,
                height=facts.height,
                duration_s=facts.duration_s,
                codec=facts.codec,
                poster=frame,
            )
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
                f"Video stored ({video.bytes / 1024:.0f} KB, {facts.width}x{facts.height}"
                + (f", {facts.duration_s:.1f} s)" if facts.duration_s else ")"),
                status=JobStatus.SUCCEEDED,
                bytes=video.bytes,
                content_type=video.content_type,
                duration_s=facts.duration_s,
                width=facts.width,
                height=facts.height,
                codec=facts.codec,
                poster_id=frame.pk,
            )
    except IntegrityError:
        logger.info("job %s: second fetch discarded", job.id)
        return False
    return True
