"""What happens to a batch after it is made: its jobs end (the batch ends with its last one),
the rest is canceled, failed rows are retried with new jobs."""

from __future__ import annotations

import logging

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Team
from batches.errors import BatchStateError
from batches.models import Batch, BatchItem
from batches.services.create import batch_admission, item_create
from batches.services.rows import ItemSpec, MediaSource
from batches.signals import batch_finished
from videos.errors import JobStateError
from videos.models import AttachmentKind, Job, JobStatus
from videos.services import job_cancel, job_cancelable

logger = logging.getLogger(__name__)


def _unfinished_items():
    return BatchItem.objects.filter(
        batch=OuterRef("pk"), superseded=False, job__status__in=JobStatus.in_flight()
    )


def batch_finish_if_done(*, batch_id) -> bool:
    """Mark the batch finished if none of its current jobs is unfinished; announce it once.

    One conditional UPDATE decides: of two jobs ending at once, the one whose check runs
    after both committed finishes the batch (and only once: finished_at must still be
    empty). It runs after the job's commit (on_commit), so it sees every committed end, and
    takes no lock a job's transition could wait on; the sweep catches a lost call.
    """
    now = timezone.now()
    with transaction.atomic():
        done = (
            Batch.objects.filter(pk=batch_id, finished_at__isnull=True)
            .exclude(Exists(_unfinished_items()))
            .update(finished_at=now)
        )
        if done:
            batch_finished.send(sender=Batch, batch_id=batch_id)
    if done:
        logger.info("batch %s finished", batch_id)
    return bool(done)


def batch_job_ended(*, job_id) -> None:
    """A job reached its end (videos.signals, inside its transaction): once that commits,
    see whether its batch is done."""
    batch_id = (
        BatchItem.objects.filter(job_id=job_id, superseded=False)
        .values_list("batch_id", flat=True)
        .first()
    )
    if batch_id is not None:
        transaction.on_commit(lambda: batch_finish_if_done(batch_id=batch_id))


def batches_sweep(*, limit: int = 200) -> int:
    """The safety net: unfinished batches whose jobs have all ended (a lost on_commit)."""
    stale = list(
        Batch.objects.filter(finished_at__isnull=True)
        .exclude(Exists(_unfinished_items()))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(batch_finish_if_done(batch_id=batch_id) for batch_id in stale)


def batch_cancel(*, batch: Batch) -> int:
    """Cancel every job of the batch that can still be canceled; returns how many were.

    Each job is canceled on its own (its reservation released, its timeline told), as a
    single job's cancel; the batch ends when the last of them does."""
    Batch.objects.filter(pk=batch.pk, canceled_at__isnull=True).update(canceled_at=timezone.now())
    canceled = 0
    jobs = Job.objects.filter(
        batch_item__batch=batch,
        batch_item__superseded=False,
        status__in=[JobStatus.QUEUED, JobStatus.PROCESSING],
    )
    for job in jobs.iterator():
        if not job_cancelable(job):
            continue
        try:
            job_cancel(job=job)
        except JobStateError:
            continue  # it moved on meanwhile (started, or ended): leave it be
        canceled += 1
    batch.refresh_from_db()
    return canceled


def _spec_of(job: Job) -> ItemSpec:
    """A failed job's inputs, to make it again: its texts, its image links, its stored
    images (each read when its new job is made)."""
    stored = {a.position: a for a in job.attachments.filter(kind=AttachmentKind.INPUT)}
    media = []
    for position, url in enumerate(job.media_urls):
        attachment = stored.get(position)
        if url or attachment is None:
            media.append(MediaSource(url=url))
            continue

        def read(attachment=attachment) -> SimpleUploadedFile:
            with attachment.file.open("rb") as stored_file:
                return SimpleUploadedFile(
                    f"input-{attachment.position}",
                    stored_file.read(),
                    content_type=attachment.content_type,
                )

        media.append(MediaSource(open=read))
    return ItemSpec(texts=list(job.text_inputs), media=media, reference=job.reference)


def batch_retry_failed(*, batch: Batch, user) -> int:
    """Make a new job for every failed row (same inputs; a key the old job was pinned to
    again), admitted as a whole like a new batch; returns how many. The failed jobs stay
    as they were (their reservations were released when they failed)."""
    failed = list(
        BatchItem.objects.filter(batch=batch, superseded=False, job__status=JobStatus.FAILED)
        .select_related("job")
        .order_by("row")
    )
    if not failed:
        raise BatchStateError("this batch has no failed jobs to retry")
    template = batch.template
    with transaction.atomic():
        Team.objects.select_for_update(no_key=True).get(pk=batch.team_id)
        refusal = batch_admission(team=batch.team, template=template, count=len(failed)).refusal()
        if refusal is not None:
            raise refusal
        for item in failed:
            # Conditional: of two retries at once, one supersedes the row, the other finds
            # it taken and makes nothing for it.
            if not BatchItem.objects.filter(pk=item.pk, superseded=False).update(superseded=True):
                continue
            old = item.job
            item_create(
                batch=batch,
                user=user,
                row=item.row,
                attempt=item.attempt + 1,
                spec=_spec_of(old),
                key_id=old.key_id if old.key_pinned else None,
            )
        # Last (after the jobs): the batch is open again. A job ending meanwhile finds
        # unfinished jobs and leaves it open.
        Batch.objects.filter(pk=batch.pk).update(finished_at=None)
    batch.refresh_from_db()
    return len(failed)
