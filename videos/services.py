"""Every state change of a video job lives here.

States move forward only, by conditional update (`filter(status=OLD).update(...)` and check
the row count), so a task delivered twice, a worker killed mid-task or a callback that repeats
changes nothing the second time. Nothing waits for the upstream: a job that is not ready gets a
`next_attempt_at`, and the sweeper (videos.tasks.sweep) hands it out again when it is due.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import KeyStatus, ProviderKey
from accounts.selectors import key_default
from accounts.services import key_mark_invalid
from accounts.vault import VaultError
from videos import fetch, inputs, minimax
from videos.errors import (
    IdempotencyConflictError,
    JobInputError,
    JobStateError,
    NoUsableKeyError,
)
from videos.models import (
    Attachment,
    AttachmentKind,
    EventKind,
    Job,
    JobEvent,
    JobStatus,
    VideoTemplate,
)
from videos.queue import enqueue
from videos.signals import job_created, job_status_changed

logger = logging.getLogger(__name__)

# Rough progress for the bar: the upstream gives no percentage.
PROGRESS = {
    minimax.TaskStatus.PREPARING: 15,
    minimax.TaskStatus.PROCESSING: 40,
    minimax.TaskStatus.SUCCESS: 90,
}


@dataclass(frozen=True)
class MediaInput:
    """One image for a job: an uploaded file, or a public http(s) URL passed through."""

    upload: UploadedFile | None = None
    url: str = ""


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with +-10 % jitter so a burst of retries spreads out."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * random.uniform(0.9, 1.1)


def poll_interval(poll_count: int) -> float:
    first, cap = settings.JOB_POLL_FIRST_SECONDS, settings.JOB_POLL_MAX_SECONDS
    return min(cap, first * 1.5**poll_count)


def _event(job_id, kind: str, message: str, *, status: str = "", **data) -> JobEvent:
    return JobEvent.objects.create(
        job_id=job_id, kind=kind, status=status, message=message[:500], data=data
    )


# --- Creating -----------------------------------------------------------------------------


def job_pick_key(*, user, template: VideoTemplate, key_id: int | None) -> ProviderKey:
    if key_id is not None:
        key = ProviderKey.objects.filter(pk=key_id, user=user).first()
        if key is None:
            raise JobInputError("key_id", "no such key in your vault")
        if key.status != KeyStatus.ACTIVE:
            raise JobInputError("key_id", "this key was rejected by the upstream; add a new one")
        if (key.provider, key.region) != (template.provider, template.region):
            raise JobInputError(
                "key_id", f"this template needs a {template.get_region_display()} key"
            )
        return key
    key = key_default(user=user, provider=template.provider, region=template.region)
    if key is None:
        raise NoUsableKeyError(
            f"add an active {template.get_provider_display()} key for the "
            f"{template.get_region_display()} region to your vault first"
        )
    return key


def job_create(
    *,
    team,
    user,
    template: VideoTemplate,
    text_inputs: list[str],
    media_inputs: list[MediaInput],
    key_id: int | None = None,
    reference: str = "",
    callback_url: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
) -> Job:
    """Validate everything, then store the job and its images and enqueue the submit.

    With an `idempotency_key`, a second call of the team with the same key returns the first
    job (nothing new is stored, reserved or sent) if `request_hash` matches, and raises
    IdempotencyConflictError if it does not. The database constraint decides the race.
    """
    if not template.is_active:
        raise JobInputError("template_id", "this template is not available")
    texts = inputs.check_texts(template, text_inputs)
    inputs.check_media_count(template, media_inputs)
    if len(reference) > 200:
        raise JobInputError("reference", "at most 200 characters")
    key = job_pick_key(user=user, template=template, key_id=key_id)
    checked = [inputs.check_media(f"media_inputs[{i}]", m) for i, m in enumerate(media_inputs)]

    if idempotency_key:
        existing = _job_for_idempotency_key(team, idempotency_key, request_hash)
        if existing:
            return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            job = _job_create_row(
                team=team,
                created_by=user,
                template=template,
                key=key,
                text_inputs=texts,
                media_urls=[m.url for m in media_inputs],
                reference=reference,
                callback_url=callback_url,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                cost_cents=template.price_cents,
                next_attempt_at=now,
            )
            _store_inputs(job, media_inputs, checked)
            _event(job.id, EventKind.STATUS, "Job queued", status=JobStatus.QUEUED)
            job_created.send(sender=Job, job=job)
            enqueue("videos.tasks.submit_job", job.id)
    except _DuplicateRequest:
        # A concurrent twin committed first; answer with its job.
        return _job_for_idempotency_key(team, idempotency_key, request_hash)
    return job


class _DuplicateRequest(Exception):
    pass


def _job_create_row(**fields) -> Job:
    if not fields["idempotency_key"]:
        return Job.objects.create(**fields)
    try:
        with transaction.atomic():  # a savepoint: the unique violation must not poison the rest
            return Job.objects.create(**fields)
    except IntegrityError:
        raise _DuplicateRequest from None


def _job_for_idempotency_key(team, idempotency_key: str, request_hash: str) -> Job | None:
    job = Job.objects.filter(team=team, idempotency_key=idempotency_key).first()
    if job is not None and job.request_hash != request_hash:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request body"
        )
    return job


def _store_inputs(job: Job, media_inputs: list[MediaInput], checked: list) -> None:
    for position, (media, image) in enumerate(zip(media_inputs, checked, strict=True)):
        if media.upload is None:
            continue
        attachment = Attachment(
            job=job,
            kind=AttachmentKind.INPUT,
            position=position,
            content_type=image.content_type,
            bytes=image.bytes,
            width=image.width,
            height=image.height,
        )
        ext = image.content_type.split("/")[1].replace("jpeg", "jpg")
        attachment.file.save(f"{position}.{ext}", media.upload, save=False)
        attachment.save()


def job_cancel(*, job: Job) -> Job:
    """Cancel is only possible before the upstream has the job (it cannot be called back)."""
    if not _finish(job.id, [JobStatus.QUEUED], JobStatus.CANCELED, message="Canceled"):
        job.refresh_from_db()
        raise JobStateError(f"a job that is {job.status} can no longer be canceled")
    job.refresh_from_db()
    return job


# --- Terminal transitions ------------------------------------------------------------------


def _finish(
    job_id, from_statuses: list[str], status: str, *, message: str, match=None, **fields
) -> bool:
    """Move a job to a terminal state once; returns False if another step got there first.

    `match` narrows the claim further (e.g. to one submit attempt).
    """
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job_id, status__in=from_statuses, **(match or {})).update(
            status=status, finished_at=now, next_attempt_at=None, updated_at=now, **fields
        )
        if not moved:
            return False
        data = {}
        if fields.get("error_code"):
            data["error"] = {"code": fields["error_code"], "message": fields["error_message"]}
        _event(job_id, EventKind.STATUS, message, status=status, **data)
        job_status_changed.send(sender=Job, job_id=job_id, status=status, previous=from_statuses)
    logger.info("job %s -> %s", job_id, status)
    return True


def job_fail(
    job_id, *, code: str, message: str, from_statuses: list[str] | None = None, match=None
) -> bool:
    return _finish(
        job_id,
        from_statuses or JobStatus.in_flight(),
        JobStatus.FAILED,
        message=f"Failed: {message}",
        match=match,
        error_code=code[:40],
        error_message=message[:500],
    )


# --- Submitting -------------------------------------------------------------------------


def _callback_url(job: Job) -> str:
    if not settings.PUBLIC_BASE_URL:
        return ""
    return f"{settings.PUBLIC_BASE_URL}/callbacks/minimax/{job.callback_token}/"


def job_submit(*, job_id) -> None:
    """queued -> submitting -> processing (or back to queued on a transient error)."""
    now = timezone.now()
    claimed = Job.objects.filter(
        pk=job_id, status=JobStatus.QUEUED, next_attempt_at__lte=now
    ).update(
        status=JobStatus.SUBMITTING,
        submitting_since=now,
        submit_attempts=F("submit_attempts") + 1,
        updated_at=now,
    )
    if not claimed:
        return  # done already, canceled, or not due: a duplicate delivery
    job = Job.objects.select_related("template", "key").get(pk=job_id)
    _event(job.id, EventKind.STATUS, "Submitting to MiniMax", status=JobStatus.SUBMITTING)

    # Every write below is for this attempt only: a late answer to an earlier attempt (whose
    # worker the reconciler gave up on) must not move a job another attempt now owns.
    this_attempt = {"submit_attempts": job.submit_attempts}
    if job.key is None or job.key.status != KeyStatus.ACTIVE:
        job_fail(
            job.id,
            code="key_invalid",
            message="The vault key for this job is not usable.",
            match=this_attempt,
        )
        return
    try:
        client = minimax.client_for_key(job.key)
        task_id = client.create(
            template_id=job.template.template_id,
            text_inputs=job.text_inputs,
            media_inputs=inputs.media_values(job),
            callback_url=_callback_url(job),
        )
    except (VaultError, minimax.PermanentError) as exc:
        _fail_permanently(job, exc, match=this_attempt)
        return
    except minimax.TransientError as exc:
        _submit_retry_later(job, exc)
        return

    with transaction.atomic():
        # QUEUED too: if the reconciler requeued this attempt but nobody took it up again,
        # the upstream task is ours and paid for, so follow it rather than create another.
        moved = Job.objects.filter(
            pk=job.id, status__in=[JobStatus.SUBMITTING, JobStatus.QUEUED], **this_attempt
        ).update(
            status=JobStatus.PROCESSING,
            upstream_task_id=task_id,
            submitting_since=None,
            submitted_at=timezone.now(),
            progress=5,
            next_attempt_at=timezone.now() + timedelta(seconds=poll_interval(0)),
            updated_at=timezone.now(),
        )
        if moved:
            _event(
                job.id,
                EventKind.STATUS,
                "Accepted by MiniMax",
                status=JobStatus.PROCESSING,
                task_id=task_id,
            )
            job_status_changed.send(
                sender=Job,
                job_id=job.id,
                status=JobStatus.PROCESSING,
                previous=[JobStatus.SUBMITTING, JobStatus.QUEUED],
            )
        else:
            # Another attempt owns the job now. Keep this task id on the timeline, so the
            # second upstream task (MiniMax has no idempotency key) can be traced and disputed.
            logger.warning(
                "job %s: late create answer, upstream task %s not followed", job.id, task_id
            )
            _event(
                job.id,
                EventKind.NOTE,
                f"MiniMax answered an earlier attempt late (task {task_id}); not followed.",
                task_id=task_id,
            )


def _fail_permanently(job: Job, exc: VaultError | minimax.PermanentError, *, match=None) -> None:
    """End a job on an error that retrying cannot fix; a rejected key is marked unusable too."""
    if isinstance(exc, VaultError):
        job_fail(job.id, code="vault", message=str(exc), match=match)
        return
    if isinstance(exc, minimax.KeyRejectedError):
        key_mark_invalid(key_id=job.key_id, reason=exc.message)
    job_fail(job.id, code=exc.code, message=exc.message, match=match)


def _submit_retry_later(job: Job, exc: minimax.TransientError) -> None:
    if job.submit_attempts >= settings.JOB_SUBMIT_MAX_ATTEMPTS:
        job_fail(
            job.id,
            code=exc.code,
            message=f"{exc.message} Gave up after {job.submit_attempts} attempts.",
            from_statuses=[JobStatus.SUBMITTING],
            match={"submit_attempts": job.submit_attempts},
        )
        return
    delay = max(exc.retry_after, backoff_seconds(job.submit_attempts, base=10, cap=600))
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.id, status=JobStatus.SUBMITTING, submit_attempts=job.submit_attempts
        ).update(
            status=JobStatus.QUEUED,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            submitting_since=None,
            updated_at=timezone.now(),
        )
        if moved:
            _event(
                job.id,
                EventKind.ERROR,
                f"{exc.message} Retrying in {int(delay)} s.",
                status=JobStatus.QUEUED,
                error={"code": exc.code, "message": exc.message},
            )


# --- Following the upstream task --------------------------------------------------------


def _claim_poll(job_id, *, force: bool) -> Job | None:
    """Take the next look at a processing job; pushes its next look forward first."""
    job = Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING).first()
    if job is None or (not force and job.next_attempt_at and job.next_attempt_at > timezone.now()):
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
    return job if claimed else None


def job_poll(*, job_id, force: bool = False) -> None:
    """Ask the upstream about a processing job; `force` when a callback hinted at news."""
    job = _claim_poll(job_id, force=force)
    if job is None:
        return
    if job.key is None:
        job_fail(job.id, code="key_missing", message="The vault key for this job was deleted.")
        return
    try:
        result = minimax.client_for_key(job.key).query(task_id=job.upstream_task_id)
    except minimax.TransientError as exc:
        logger.info("job %s: query failed transiently (%s); asking again later", job.id, exc)
        return
    except (VaultError, minimax.PermanentError) as exc:
        _fail_permanently(job, exc)
        return
    job_apply_result(job=job, result=result)


def job_apply_result(*, job: Job, result: minimax.TaskResult) -> None:
    """Record what a query said; success hands the job to the fetch step."""
    if result.status == minimax.TaskStatus.FAIL:
        job_fail(
            job.id,
            code="upstream_failed",
            message="MiniMax could not generate this video.",
            from_statuses=[JobStatus.PROCESSING],
        )
        return
    with transaction.atomic():
        progress = PROGRESS[result.status]
        if result.status == minimax.TaskStatus.PROCESSING:
            # The upstream gives no percentage: creep forward so the bar shows life.
            progress = min(85, progress + 5 * job.poll_count)
        moved = Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
            upstream_status=result.raw_status,
            upstream_video_url=result.video_url,
            upstream_file_id=result.file_id,
            progress=max(job.progress, progress),
            updated_at=timezone.now(),
        )
        if moved and result.raw_status != job.upstream_status:
            _event(
                job.id,
                EventKind.PROGRESS,
                f"MiniMax status: {result.raw_status}",
                status=JobStatus.PROCESSING,
                upstream_status=result.raw_status,
                progress=max(job.progress, progress),
            )
        if result.status == minimax.TaskStatus.SUCCESS:
            enqueue("videos.tasks.fetch_job", job.id)


def job_fetch(*, job_id) -> None:
    """Stream the finished video into storage; processing -> succeeded exactly once."""
    job = Job.objects.select_related("key").filter(pk=job_id, status=JobStatus.PROCESSING).first()
    if job is None or minimax.parse_status(job.upstream_status) != minimax.TaskStatus.SUCCESS:
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
        client = minimax.client_for_key(job.key)
        url = job.upstream_video_url
        if job.upstream_file_id:
            url = client.retrieve_file(file_id=job.upstream_file_id).download_url
        stored = fetch.download(client, url)
        _store_result(job, stored)
    except Exception as exc:
        # Whatever broke (upstream, network, storage), the job must not stay here forever:
        # every failure counts against JOB_FETCH_MAX_ATTEMPTS.
        if not isinstance(exc, (minimax.UpstreamError, VaultError, fetch.FetchError)):
            logger.exception("job %s: fetch failed unexpectedly", job.id)
        _fetch_failed(job, exc)
    finally:
        if stored is not None:
            stored.close()


def _fetch_failed(job: Job, exc: Exception) -> None:
    message = getattr(exc, "message", None) or type(exc).__name__
    attempts = job.fetch_attempts + 1
    if attempts >= settings.JOB_FETCH_MAX_ATTEMPTS or isinstance(exc, minimax.PermanentError):
        job_fail(
            job.id,
            code="fetch",
            message=f"The video could not be downloaded: {message}",
            from_statuses=[JobStatus.PROCESSING],
        )
        return
    delay = backoff_seconds(attempts, base=15, cap=600)
    # Clearing the URL makes the next look re-query, which hands out a fresh signed URL.
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
            upstream_status="",
            upstream_video_url="",
            fetching_until=None,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        if moved:
            _event(
                job.id, EventKind.ERROR, f"Download failed ({message}); retrying in {int(delay)} s."
            )


def _store_result(job: Job, stored: fetch.Downloaded) -> None:
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
            if not _finish(
                job.id,
                [JobStatus.PROCESSING],
                JobStatus.SUCCEEDED,
                message="Video ready",
                progress=100,
                error_code="",
                error_message="",
            ):
                raise IntegrityError("job already finished")
            _event(
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


# --- Upstream callbacks -----------------------------------------------------------------


def job_record_callback(*, job: Job, payload: dict) -> None:
    """A push from the upstream is a hint, never the outcome: record it and re-query."""
    status = str(payload.get("status") or "")[:20]
    task_id = str(payload.get("task_id") or "")[:64]
    with transaction.atomic():
        _event(
            job.id,
            EventKind.CALLBACK,
            f"MiniMax says: {status or 'something'}",
            upstream_status=status,
            task_id=task_id,
        )
        if job.status in (JobStatus.SUBMITTING, JobStatus.PROCESSING):
            enqueue("videos.tasks.poll_job", job.id, force=True)


# --- The sweeper and the reconciler -------------------------------------------------------


def jobs_sweep() -> dict[str, int]:
    """Hand out every due action once a minute; recover jobs whose worker died."""
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
    # The worker died between claiming and recording the answer. MiniMax has no idempotency
    # key, so a retry may create a second upstream task; losing the job would be worse.
    if job.submit_attempts >= settings.JOB_SUBMIT_MAX_ATTEMPTS:
        job_fail(
            job.id,
            code="stuck",
            message="Submission was interrupted too many times.",
            from_statuses=[JobStatus.SUBMITTING],
        )
        return "failed"
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.pk, status=JobStatus.SUBMITTING, submitting_since=job.submitting_since
        ).update(status=JobStatus.QUEUED, next_attempt_at=timezone.now(), submitting_since=None)
        if moved:
            _event(
                job.id,
                EventKind.NOTE,
                "Submission was interrupted; trying again.",
                status=JobStatus.QUEUED,
            )
    return "requeued"
