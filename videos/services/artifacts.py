"""What the upstream shows on the way: its words (notes on the timeline) and the images it
makes or the poster it gives (attachments, downloaded into our storage by a task, then a
timeline event, so the page and the API's event stream show them as they come)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Max

from videos import downloads
from videos.models import Attachment, AttachmentKind, EventKind, Job, JobStatus
from videos.providers.base import Artifact
from videos.providers.errors import UpstreamError
from videos.queue import enqueue
from videos.services.transitions import event, provider_of

logger = logging.getLogger("videos.services")

KINDS = {"image": AttachmentKind.IMAGE, "poster": AttachmentKind.POSTER}
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def record_notes(job: Job, notes: Sequence[str]) -> None:
    for note in notes:
        if note.strip():
            event(job.id, EventKind.PROGRESS, note.strip(), status=JobStatus.PROCESSING)


def record_artifacts(job: Job, artifacts: Sequence[Artifact]) -> None:
    """New artifacts become attachments to download; one the job has already is skipped."""
    for artifact in artifacts:
        kind = KINDS.get(artifact.kind)
        if kind is None or not artifact.url:
            continue
        if Attachment.objects.filter(job=job, kind=kind, source_url=artifact.url).exists():
            continue
        if kind == AttachmentKind.POSTER and Attachment.objects.filter(job=job, kind=kind).exists():
            continue  # one poster per job
        last = Attachment.objects.filter(job=job, kind=kind).aggregate(n=Max("position"))["n"]
        try:
            with transaction.atomic():
                attachment = Attachment.objects.create(
                    job=job,
                    kind=kind,
                    position=0 if last is None else last + 1,
                    source_url=artifact.url[:2000],
                )
        except IntegrityError:
            continue  # a concurrent look recorded it first
        enqueue("videos.tasks.fetch_attachment", attachment.pk)


def attachment_fetch(*, attachment_id: int) -> None:
    """Download one artifact into storage (best effort: a preview, not the product)."""
    attachment = Attachment.objects.select_related("job").filter(pk=attachment_id).first()
    if attachment is None or attachment.file or not attachment.source_url:
        return
    job = attachment.job
    try:
        stored = downloads.download(
            provider_of(job).open_artifact(attachment.source_url),
            max_bytes=MAX_IMAGE_BYTES,
            default_type="image/png",
        )
    except (UpstreamError, downloads.DownloadError) as exc:
        logger.info("job %s: %s %s not downloaded: %s", job.id, attachment.kind, attachment.pk, exc)
        return
    try:
        try:
            content_type = downloads.raster_type(stored)
        except downloads.DownloadError as exc:
            logger.info("job %s: artifact %s refused: %s", job.id, attachment.pk, exc.message)
            return
        ext = content_type.split("/")[1].replace("jpeg", "jpg")
        attachment.file.save(f"{attachment.position}.{ext}", stored.file, save=False)
        with transaction.atomic():
            Attachment.objects.filter(pk=attachment.pk).update(
                file=attachment.file.name, content_type=content_type, bytes=stored.bytes
            )
            label = "Poster" if attachment.kind == AttachmentKind.POSTER else "Image on the way"
            event(
                job.id,
                EventKind.IMAGE,
                label,
                attachment_id=attachment.pk,
                attachment_kind=attachment.kind,
                content_type=content_type,
            )
    finally:
        stored.close()
