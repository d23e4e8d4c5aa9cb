"""Making a job: check everything, reserve its price, store it, enqueue its submit; and
canceling one."""

from __future__ import annotations

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import KeyStatus, ProviderKey
from billing.services import ledger_reserve
from videos import inputs
from videos.errors import IdempotencyConflictError, JobInputError, JobStateError, NoUsableKeyError
from videos.inputs import MediaInput
from videos.models import Attachment, AttachmentKind, EventKind, Job, JobStatus, VideoTemplate
from videos.providers import provider_for
from videos.queue import enqueue
from videos.services.pool import keys_usable_by
from videos.services.transitions import event, finish, provider_of


def job_pick_key(*, user, team, template: VideoTemplate, key_id: int | None) -> ProviderKey | None:
    """The key a new job is pinned to (`key_id`: one of the user's own, or one shared with
    the team), or None: the pool chooses one when the job is submitted; raises if the pool has
    no usable key for the template at all."""
    if key_id is not None:
        key = (
            ProviderKey.objects.filter(pk=key_id).filter(Q(user=user) | Q(shared_with=team)).first()
        )
        if key is None:
            raise JobInputError("key_id", "no such key in your vault or shared with your team")
        if key.status != KeyStatus.ACTIVE:
            raise JobInputError("key_id", "this key was rejected by the upstream; add a new one")
        if (key.provider, key.region) != (template.provider, template.region):
            raise JobInputError("key_id", f"this template needs a {_key_kind(template)}")
        return key
    pool = keys_usable_by(user=user, team=team, provider=template.provider, region=template.region)
    if not pool.exists():
        raise NoUsableKeyError(
            f"add an active {_key_kind(template)} to your vault first, or ask a teammate to "
            "share one with the team"
        )
    return None


def _key_kind(template: VideoTemplate) -> str:
    """What kind of key a template needs: the provider's name, and the region's where the
    provider has more than one."""
    provider = provider_for(template.provider)
    if len(provider.regions) == 1:
        return f"{provider.label} key"
    region = next((r.label for r in provider.regions if r.slug == template.region), "")
    return f"{provider.label} key for the {region or template.region} region"


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
    queue_behind: bool = False,
) -> Job:
    """Validate everything, then store the job and its images, reserve its price and enqueue
    the submit, all in one transaction.

    With an `idempotency_key`, a second call of the team with the same key returns the first
    job (nothing new is stored, reserved or sent) if `request_hash` matches, and raises
    IdempotencyConflictError if it does not. The database constraint decides the race.

    `queue_behind` (a batch's jobs, admitted as a whole by the batches app): the job is not
    refused over the plan's jobs at once, nor counted there against single submits; it
    waits in the team's queue for a key instead.
    """
    if not template.is_active:
        raise JobInputError("template_id", "this template is not available")
    rules = provider_for(template.provider).rules
    texts = inputs.check_texts(template, text_inputs, rules)
    inputs.check_media_count(template, media_inputs)
    if len(reference) > 200:
        raise JobInputError("reference", "at most 200 characters")
    key = job_pick_key(user=user, team=team, template=template, key_id=key_id)
    checked = [
        inputs.check_media(f"media_inputs[{i}]", m, rules) for i, m in enumerate(media_inputs)
    ]

    if idempotency_key:
        existing = job_for_idempotency_key(team, idempotency_key, request_hash)
        if existing:
            return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            job = _job_create_row(
                team=team,
                created_by=user,
                template=template,
                provider=template.provider,
                key=key,
                key_pinned=key is not None,
                text_inputs=texts,
                media_urls=[m.url for m in media_inputs],
                reference=reference,
                callback_url=callback_url,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                cost_cents=template.price_cents,
                next_attempt_at=now,
                queue_behind=queue_behind,
            )
            # Raises QuotaExceededError, which rolls the job back: a refused submit leaves
            # no trace.
            ledger_reserve(
                team_id=team.pk,
                job_id=job.pk,
                cost_cents=job.cost_cents,
                jobs_in_flight=(
                    (lambda: 1)  # only itself: nothing it would be refused behind
                    if queue_behind
                    else lambda: Job.objects.filter(
                        team_id=team.pk, status__in=JobStatus.in_flight(), queue_behind=False
                    ).count()
                ),
            )
            _store_inputs(job, media_inputs, checked)
            event(job.id, EventKind.STATUS, "Job queued", status=JobStatus.QUEUED)
            enqueue("videos.tasks.submit_job", job.id)
    except _DuplicateRequest:
        # A concurrent twin committed first; answer with its job.
        twin = job_for_idempotency_key(team, idempotency_key, request_hash)
        assert twin is not None  # the constraint that refused us is that twin's row
        return twin
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


def job_for_idempotency_key(team, idempotency_key: str, request_hash: str) -> Job | None:
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
        # Wrapped: an S3 backend would store (and later serve) the type the client declared
        # on the upload; a plain File carries none, so the type follows the checked name.
        attachment.file.save(f"{position}.{ext}", File(media.upload), save=False)
        attachment.save()


def job_cancelable(job: Job) -> bool:
    """Before the upstream has it; or while it runs, where the provider can call it back."""
    if job.status == JobStatus.QUEUED:
        return True
    return job.status == JobStatus.PROCESSING and provider_of(job).cancels_running


def job_cancel(*, job: Job) -> Job:
    """Cancel the job: its reservation is released at once, whatever the upstream answers
    later; a running task is called back upstream by a task (videos.tasks.cancel_upstream)."""
    statuses: list[str] = [JobStatus.QUEUED]
    if provider_of(job).cancels_running:
        statuses.append(JobStatus.PROCESSING)
    with transaction.atomic():
        canceled = finish(job.id, statuses, JobStatus.CANCELED, message="Canceled")
        if canceled:
            job.refresh_from_db()
            # Running, or a create that may have happened: the upstream is asked too.
            if job.upstream_task_id or job.upstream_data.get("ambiguous_since"):
                enqueue("videos.tasks.cancel_upstream", job.id)
    if not canceled:
        job.refresh_from_db()
        raise JobStateError(f"a job that is {job.status} can no longer be canceled")
    return job
