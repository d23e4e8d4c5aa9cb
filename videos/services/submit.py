"""Submitting: queued -> submitting -> processing, or back to queued to try again later.

A create whose answer was lost (a read timeout, a stream cut before the task id, a worker
that died mid-call) is ambiguous, not failed: the upstream may have made, and will bill, the
task. Such a job goes back to `queued` marked `ambiguous_since` and waits a grace period; on
its next turn the provider is first asked to find the lost task (useapi lists running and
recent videos), and a push to the job's own callback URL that names a task is adopted after a
query with the job's key confirms it (job_adopt, below; the push arrives through
videos.services.follow.job_record_callback). Only when neither
turns it up is the create sent again, and the timeline says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import KeyCooling
from accounts.vault import VaultError
from videos.inputs import input_url_path
from videos.models import (
    Attachment,
    AttachmentKind,
    EventKind,
    Job,
    JobEvent,
    JobStatus,
    KeyEventKind,
)
from videos.providers import base
from videos.providers.errors import (
    AmbiguousCreate,
    CallbackUnreachable,
    CredentialsRejected,
    InsufficientBalance,
    PermanentError,
    RateLimited,
    TransientError,
    UpstreamError,
)
from videos.queue import enqueue
from videos.services.artifacts import record_artifacts, record_notes
from videos.services.keys import key_mark_invalid
from videos.services.pool import (
    AMBIGUOUS,
    WAITING,
    Claim,
    key_event,
    key_rest,
    pool_claim,
    pool_wake_for_key,
)
from videos.services.transitions import (
    DUE_SLACK,
    backoff_seconds,
    credentials_for,
    event,
    job_fail,
    merged,
    poll_interval,
    provider_of,
)
from videos.signals import job_status_changed

logger = logging.getLogger("videos.services")

# How many submit attempts a key refused (rate or capacity: useapi's 429 means "wait for the
# running video"; balance; a rejected key): nothing was made, so those do not use up
# JOB_SUBMIT_MAX_ATTEMPTS.
REFUSED = "refused_attempts"


def counted_attempts(job: Job) -> int:
    return job.submit_attempts - int(job.upstream_data.get(REFUSED, 0))


# Set when the upstream could not verify the job's callback URL: it goes without one.
NO_CALLBACK = "no_callback"


def callback_url(job: Job) -> str:
    """Where the upstream can push news of this job; "" when it cannot reach us."""
    if not settings.PUBLIC_BASE_URL or job.upstream_data.get(NO_CALLBACK):
        return ""
    path = reverse("callback", args=[job.provider, job.callback_token])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _media_for(job: Job) -> list[base.MediaInput]:
    stored = {a.position: a for a in job.attachments.filter(kind=AttachmentKind.INPUT)}
    media = []
    for position, url in enumerate(job.media_urls):
        if url:
            media.append(base.MediaInput(position=position, content_type="", url=url, read=None))
            continue
        attachment = stored[position]
        public = ""
        if settings.PUBLIC_BASE_URL:
            public = settings.PUBLIC_BASE_URL + input_url_path(attachment.pk)
        media.append(
            base.MediaInput(
                position=position,
                content_type=attachment.content_type,
                url=public,
                read=_reader(attachment),
                upload_ref=_upload_of(attachment, job.key_id),
            )
        )
    return media


def _reader(attachment: Attachment):
    def read() -> bytes:
        with attachment.file.open("rb") as fh:
            return fh.read()

    return read


# An upload belongs to the account that made it (useapi: a fileID of another token is refused,
# upstream FACTS), so its reference is kept with the key and reused only on that key.
UPLOAD_KEY = "key_id"


def _upload_of(attachment: Attachment, key_id: int | None) -> dict[str, str]:
    ref = dict(attachment.upstream_ref)
    return ref if ref.pop(UPLOAD_KEY, None) == key_id else {}


def _remember_upload(job: Job):
    def on_upload(position: int, ref: Mapping[str, str]) -> None:
        # At once, outside the job's transaction: a retry after a crash reuses the upload.
        Attachment.objects.filter(job=job, kind=AttachmentKind.INPUT, position=position).update(
            upstream_ref={**ref, UPLOAD_KEY: job.key_id}
        )

    return on_upload


def _claim(job_id) -> Job | None:
    """queued -> submitting on a key with a free slot, in one transaction; None when the job
    is not due (done, canceled, a duplicate delivery) or has to wait for a key."""
    now = timezone.now()
    # No time at all is a bug's leftover (the sweeper hands such jobs out too): due now.
    # DUE_SLACK: the dispatcher handed it out by its host's clock, which may run a little ahead.
    due = Q(next_attempt_at__lte=now + DUE_SLACK) | Q(next_attempt_at__isnull=True)
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(of=("self",))
            .select_related("template", "key")
            .filter(due, pk=job_id, status=JobStatus.QUEUED)
            .first()
        )
        if job is None:
            return None
        claim = pool_claim(job)
        if claim.key is None:
            _no_key(job, claim)
            return None
        data = {k: v for k, v in job.upstream_data.items() if k != WAITING}
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.SUBMITTING,
            key=claim.key,
            submitting_since=now,
            submit_attempts=F("submit_attempts") + 1,
            upstream_data=data,
            updated_at=now,
        )
    job.refresh_from_db()
    return job


def _no_key(job: Job, claim: Claim) -> None:
    if claim.wait_until is None:
        # No key of the template's provider and region is usable any more (deleted, rejected,
        # unshared): nothing will free up by itself.
        if job.upstream_data.get(AMBIGUOUS):
            message = (
                "The key that sent this job's create is no longer usable (rejected, deleted "
                "or unshared), so the upstream cannot be asked whether it made the video; it "
                "may have made it. Not sent again."
            )
        elif job.key_pinned:
            message = "The vault key chosen for this job is not usable."
        else:
            message = (
                f"No usable {provider_of(job).label} key: add one, or ask for one to be shared."
            )
        job_fail(job.id, code="no_usable_key", message=message, from_statuses=[JobStatus.QUEUED])
        return
    first_wait = WAITING not in job.upstream_data
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        next_attempt_at=claim.wait_until,
        upstream_data=merged(job.upstream_data, {WAITING: timezone.now().isoformat()}),
    )
    if first_wait:
        event(
            job.id,
            EventKind.NOTE,
            f"Waiting for a free key ({claim.busy} busy or resting); it starts as soon as one "
            "is free.",
            status=JobStatus.QUEUED,
        )


def job_submit(*, job_id) -> None:
    """queued -> submitting -> processing (or back to queued on a transient error)."""
    job = _claim(job_id)
    if job is None:
        return
    assert job.key is not None  # the claim gave it one
    provider = provider_of(job)
    event(
        job.id,
        EventKind.STATUS,
        f"Submitting to {provider.label} with key “{job.key.label}” (…{job.key.last4})",
        status=JobStatus.SUBMITTING,
    )

    # Every write below is for this attempt only: a late answer to an earlier attempt (whose
    # worker the reconciler gave up on) must not move a job another attempt now owns.
    this_attempt = {"submit_attempts": job.submit_attempts}
    # A failure here ends only this attempt's claim: a push may have adopted the task meanwhile.
    submitting: list[str] = [JobStatus.SUBMITTING]
    try:
        credentials = credentials_for(job.key)
        if job.upstream_data.get(AMBIGUOUS):
            found = _found_by_push(job, provider, credentials) or provider.find_lost(
                credentials,
                reference=str(job.id),
                template_id=job.template.template_id,
                since=datetime.fromisoformat(job.upstream_data[AMBIGUOUS]),
            )
            if found is not None and not _followed_by_another_job(job, found.task_id):
                _accept(job, found, this_attempt, found_again=True)
                return
            # The upstream shows no such task: from here on the job may move to another key.
            job.upstream_data = {k: v for k, v in job.upstream_data.items() if k != AMBIGUOUS}
            event(
                job.id,
                EventKind.NOTE,
                f"{provider.label} shows no task from the earlier attempt; submitting again.",
            )
        submitted = provider.submit(
            credentials,
            base.SubmitRequest(
                template_id=job.template.template_id,
                text_inputs=job.text_inputs,
                media=_media_for(job),
                callback_url=callback_url(job),
                reference=str(job.id),
                on_upload=_remember_upload(job),
            ),
        )
    except VaultError as exc:
        job_fail(
            job.id, code="vault", message=str(exc), from_statuses=submitting, match=this_attempt
        )
        return
    except AmbiguousCreate as exc:
        _submit_ambiguous(job, exc)
        return
    except CallbackUnreachable as exc:
        # Nothing was made: send it again at once, without a callback (polling follows it).
        _requeue(
            job,
            0,
            f"{exc.message} Sending it again without a callback; polling follows the job.",
            exc,
            data={NO_CALLBACK: True, REFUSED: int(job.upstream_data.get(REFUSED, 0)) + 1},
        )
        enqueue("videos.tasks.submit_job", job.id)
        return
    except RateLimited as exc:
        seconds = exc.retry_after or settings.KEY_RATE_LIMIT_COOLOFF_SECONDS
        key_rest(
            key_id=job.key.pk, reason=KeyCooling.RATE_LIMITED, seconds=seconds, message=exc.message
        )
        _failover(job, exc, rest=seconds)
        return
    except TransientError as exc:
        key_event(key_id=job.key.pk, kind=KeyEventKind.ERROR, message=exc.message)
        _submit_retry_later(job, exc)
        return
    except InsufficientBalance as exc:
        key_rest(
            key_id=job.key.pk,
            reason=KeyCooling.OUT_OF_BALANCE,
            seconds=settings.KEY_BALANCE_COOLOFF_SECONDS,
            message=exc.message,
        )
        _failover(job, exc, rest=settings.KEY_BALANCE_COOLOFF_SECONDS)
        return
    except CredentialsRejected as exc:
        key_mark_invalid(key_id=job.key.pk, reason=exc.message)
        _failover(job, exc)
        return
    except PermanentError as exc:
        key_event(key_id=job.key.pk, kind=KeyEventKind.ERROR, message=exc.message)
        fail_permanently(job, exc, from_statuses=submitting, match=this_attempt)
        return
    except Exception:
        # A bug, or storage failing under an upload: whether the create went out is unknown,
        # so it is treated as lost, never as a reason to create twice (and never left stuck).
        logger.exception("job %s: submit failed unexpectedly", job.id)
        _submit_ambiguous(job, AmbiguousCreate("error", "The submission failed unexpectedly."))
        return
    _accept(job, submitted, this_attempt)


def _found_by_push(job: Job, provider, credentials) -> base.Submitted | None:
    """The task a push named for this job while its create's answer was lost, if this key's
    account shows it. The adopt task a push enqueues may have failed to check it (a transient
    error): the push on the timeline is still evidence, so a retry follows that task rather
    than pay for another. A transient error here raises: the job stays ambiguous and is
    looked at again later, never created twice."""
    pushed = (
        JobEvent.objects.filter(job_id=job.pk, kind=EventKind.CALLBACK)
        .order_by("-id")
        .values_list("data", flat=True)
    )
    task_id = next((str(d["task_id"]) for d in pushed if (d or {}).get("task_id")), "")
    if not task_id:
        return None
    try:
        progress = provider.status(credentials, task_id, {})
    except PermanentError:  # not this account's task (forged, or another key's): ignore it
        return None
    return base.Submitted(task_id=task_id, data=progress.data)


def _failover(job: Job, exc: UpstreamError, *, rest: float = 0) -> None:
    """The key refused, so nothing was made upstream: the job moves to another key at once.
    A job that stays on its key (its caller chose it, or a create it sent may exist there and
    must be looked for with that account) waits for the key's `rest` to end instead, or ends
    when the key can no longer be used. Refusals never use up the job's attempts; waiting for
    a key that takes the job does end after JOB_RATE_LIMIT_MAX_WAIT_SECONDS."""
    this_attempt = {"submit_attempts": job.submit_attempts}
    waited = (timezone.now() - job.created_at).total_seconds()
    if waited > settings.JOB_RATE_LIMIT_MAX_WAIT_SECONDS:
        message = f"{exc.message} Gave up after waiting {waited // 3600:.0f} h for a key."
        job_fail(
            job.id,
            code=exc.code,
            message=message,
            from_statuses=[JobStatus.SUBMITTING],
            match=this_attempt,
        )
        return
    refused = {REFUSED: int(job.upstream_data.get(REFUSED, 0)) + 1}
    if job.key_pinned and isinstance(exc, PermanentError):
        fail_permanently(job, exc, from_statuses=[JobStatus.SUBMITTING], match=this_attempt)
        return
    if job.key_pinned or job.upstream_data.get(AMBIGUOUS):
        # Its next claim, after the key's rest, runs it or ends it if the key is unusable.
        wait = f" Trying this key again in {int(rest)} s." if rest else ""
        _requeue(job, rest, f"{exc.message}{wait}", exc, data=refused)
        if not rest:
            enqueue("videos.tasks.submit_job", job.id)
        return
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.id, status=JobStatus.SUBMITTING, **this_attempt).update(
            status=JobStatus.QUEUED,
            key=None,
            next_attempt_at=timezone.now(),
            submitting_since=None,
            upstream_data=merged(job.upstream_data, refused),
            updated_at=timezone.now(),
        )
        if moved:
            event(
                job.id,
                EventKind.ERROR,
                f"{exc.message} Trying another key.",
                status=JobStatus.QUEUED,
                error={"code": exc.code, "message": exc.message},
            )
            enqueue("videos.tasks.submit_job", job.id)


def fail_permanently(
    job: Job, exc: PermanentError, *, from_statuses: list[str], match=None
) -> None:
    """End a job on an error that retrying cannot fix; a rejected key is marked unusable too."""
    if isinstance(exc, CredentialsRejected):
        key_mark_invalid(key_id=job.key_id, reason=exc.message)
    job_fail(job.id, code=exc.code, message=exc.message, from_statuses=from_statuses, match=match)


def _followed_by_another_job(job: Job, task_id: str) -> bool:
    """A task another job already follows is that job's (and charged to it), never ours."""
    taken = (
        Job.objects.filter(provider=job.provider, upstream_task_id=task_id)
        .exclude(pk=job.pk)
        .exists()
    )
    if taken:
        event(
            job.id,
            EventKind.NOTE,
            f"The task found upstream ({task_id[:60]}) belongs to another job; not adopted.",
        )
    return taken


def _accept(job: Job, submitted: base.Submitted, match: dict, *, found_again: bool = False) -> bool:
    """The upstream has the task: processing, and the first look is scheduled. False when
    another attempt (or a push) moved the job first."""
    provider = provider_of(job)
    now = timezone.now()
    data = merged({k: v for k, v in job.upstream_data.items() if k != AMBIGUOUS}, submitted.data)
    with transaction.atomic():
        # QUEUED too: if the reconciler requeued this attempt but nobody took it up again,
        # the upstream task is ours and paid for, so follow it rather than create another.
        claim = {"status__in": [JobStatus.SUBMITTING, JobStatus.QUEUED], **match}
        moved = Job.objects.filter(pk=job.id, **claim).update(
            status=JobStatus.PROCESSING,
            upstream_task_id=submitted.task_id,
            upstream_data=data,
            submitting_since=None,
            submitted_at=now,
            progress=5,
            next_attempt_at=now + timedelta(seconds=poll_interval(0)),
            updated_at=now,
        )
        if moved:
            message = (
                f"Found the task the earlier attempt made at {provider.label}"
                if found_again
                else f"Accepted by {provider.label}"
            )
            event(
                job.id,
                EventKind.STATUS,
                message,
                status=JobStatus.PROCESSING,
                task_id=submitted.task_id,
            )
            record_notes(job, submitted.notes)
            record_artifacts(job, submitted.artifacts)
            job_status_changed.send(
                sender=Job,
                job_id=job.id,
                status=JobStatus.PROCESSING,
                previous=[JobStatus.SUBMITTING, JobStatus.QUEUED],
            )
            return True
    current_task, current_status = Job.objects.filter(pk=job.id).values_list(
        "upstream_task_id", "status"
    ).first() or ("", "")
    if current_task == submitted.task_id:
        return False  # the same task, adopted from a push meanwhile
    if current_status == JobStatus.CANCELED and not current_task:
        # Canceled while its create was in flight or lost: the task is made, so call it back.
        Job.objects.filter(pk=job.id, upstream_task_id="").update(
            upstream_task_id=submitted.task_id
        )
        event(
            job.id,
            EventKind.NOTE,
            f"{provider.label} made task {submitted.task_id} after this job was canceled.",
            task_id=submitted.task_id,
        )
        enqueue("videos.tasks.cancel_upstream", job.id)
        return False
    # Another attempt owns the job now. Keep this task id on the timeline, so a second
    # upstream task (no idempotency upstream) can be traced and disputed.
    logger.warning(
        "job %s: late create answer, upstream task %s not followed", job.id, submitted.task_id
    )
    event(
        job.id,
        EventKind.NOTE,
        f"{provider.label} answered an earlier attempt late (task {submitted.task_id}); "
        "not followed.",
        task_id=submitted.task_id,
    )
    return False


def _submit_retry_later(job: Job, exc: TransientError) -> None:
    waited = timezone.now() - job.created_at
    rate_limited = isinstance(exc, RateLimited)
    if rate_limited and waited.total_seconds() > settings.JOB_RATE_LIMIT_MAX_WAIT_SECONDS:
        reason = f"{exc.message} Gave up after waiting {waited.total_seconds() // 3600:.0f} h."
    elif not rate_limited and counted_attempts(job) >= settings.JOB_SUBMIT_MAX_ATTEMPTS:
        reason = f"{exc.message} Gave up after {counted_attempts(job)} attempts."
    else:
        reason = ""
    if reason:
        job_fail(
            job.id,
            code=exc.code,
            message=reason,
            from_statuses=[JobStatus.SUBMITTING],
            match={"submit_attempts": job.submit_attempts},
        )
        return
    delay = max(exc.retry_after, backoff_seconds(counted_attempts(job), base=10, cap=600))
    data = {REFUSED: int(job.upstream_data.get(REFUSED, 0)) + 1} if rate_limited else None
    _requeue(job, delay, f"{exc.message} Retrying in {int(delay)} s.", exc, data=data)


def _submit_ambiguous(job: Job, exc: AmbiguousCreate) -> None:
    """The create may have happened: wait for the upstream to show it before any retry."""
    if counted_attempts(job) >= settings.JOB_SUBMIT_MAX_ATTEMPTS:
        job_fail(
            job.id,
            code="ambiguous",
            message=(
                f"{exc.message} The upstream may have made the video, but it could not be "
                f"found after {job.submit_attempts} attempts."
            ),
            from_statuses=[JobStatus.SUBMITTING],
            match={"submit_attempts": job.submit_attempts},
        )
        return
    delay = max(exc.retry_after, settings.JOB_AMBIGUOUS_GRACE_SECONDS)
    since = job.upstream_data.get(AMBIGUOUS) or (job.submitting_since or timezone.now())
    _requeue(
        job,
        delay,
        f"{exc.message} The upstream may have started this video: looking for it in "
        f"{int(delay)} s before trying again.",
        exc,
        data={AMBIGUOUS: since if isinstance(since, str) else since.isoformat()},
    )


def _requeue(job: Job, delay: float, message: str, exc: UpstreamError, data=None) -> None:
    """Back to the queue to try again in `delay` s. Its key's slot is free meanwhile, unless
    a create it sent may exist (ambiguous): that one holds the slot until it is settled."""
    with transaction.atomic():
        fields = {}
        if data:
            fields["upstream_data"] = merged(job.upstream_data, data)
        holds_its_slot = AMBIGUOUS in fields.get("upstream_data", job.upstream_data)
        moved = Job.objects.filter(
            pk=job.id, status=JobStatus.SUBMITTING, submit_attempts=job.submit_attempts
        ).update(
            status=JobStatus.QUEUED,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            submitting_since=None,
            updated_at=timezone.now(),
            **fields,
        )
        if moved:
            event(
                job.id,
                EventKind.ERROR,
                message,
                status=JobStatus.QUEUED,
                error={"code": exc.code, "message": exc.message},
            )
            if job.key_id is not None and not holds_its_slot:
                pool_wake_for_key(key_id=job.key_id)


def mark_ambiguous(job: Job) -> bool:
    """A job left in `submitting` by a dead worker: its create may have reached the upstream.
    Back to queued, marked, so its next turn looks for the task before creating another."""
    since = job.submitting_since or timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.pk, status=JobStatus.SUBMITTING, submitting_since=job.submitting_since
        ).update(
            status=JobStatus.QUEUED,
            next_attempt_at=timezone.now(),
            submitting_since=None,
            upstream_data=merged(job.upstream_data, {AMBIGUOUS: since.isoformat()}),
        )
        if moved:
            event(
                job.id,
                EventKind.NOTE,
                "Submission was interrupted; looking for it upstream before trying again.",
                status=JobStatus.QUEUED,
            )
            # Its slot on the key stays taken: the create may be running there.
    return bool(moved)


def job_adopt(*, job_id, task_id: str) -> None:
    """A push named a task for a job whose create is ambiguous or still in flight: follow it,
    once a query with the job's own key shows the task is that account's."""
    job = Job.objects.select_related("key").filter(pk=job_id).first()
    if job is None or job.upstream_task_id or job.key is None:
        return
    if job.status not in (JobStatus.QUEUED, JobStatus.SUBMITTING):
        return
    provider = provider_of(job)
    try:
        progress = provider.status(credentials_for(job.key), task_id, {})
    except (TransientError, VaultError):
        return  # the next push, the lookup or the retry after the grace period decides
    except PermanentError:
        event(
            job.id,
            EventKind.NOTE,
            f"A push named task {task_id[:60]}, which this key cannot see; ignored.",
        )
        return
    submitted = base.Submitted(task_id=task_id, data=progress.data)
    if _accept(job, submitted, {"upstream_task_id": ""}, found_again=True):
        enqueue("videos.tasks.poll_job", job.id, force=True)
