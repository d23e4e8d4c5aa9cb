"""A template's cover and preview, kept in the shapes the pages show: the cover as a WebP
poster (at most 640 px wide, its size recorded for the width/height attributes), the clip as
a short muted loop (videos.media.make_loop). Used by the catalogue sync and the admin; and
`posters_backfill` (`manage.py backfill_posters`) for what was stored before."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import BinaryIO

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from videos import media, stored
from videos.models import Attachment, AttachmentKind, VideoTemplate

logger = logging.getLogger("videos.services")


def cover_file(source: BinaryIO) -> tuple[ContentFile, int, int]:
    """The cover as a WebP file to store, and its size; media.NotAnImage when it is not one."""
    poster = media.poster_from_image(source)
    file = ContentFile(poster.data, name=f"cover.{poster.ext}")
    file.content_type = poster.content_type  # type: ignore[attr-defined]  # S3's type
    return file, poster.width, poster.height


def preview_file(source: str | BinaryIO) -> ContentFile:
    """The clip as a short muted loop to store; media.NotAVideo when it does not decode."""
    file = ContentFile(media.make_loop(source), name="preview.mp4")
    file.content_type = "video/mp4"  # type: ignore[attr-defined]
    return file


def template_cover_store(template: VideoTemplate, source: BinaryIO) -> None:
    file, width, height = cover_file(source)
    template.cover.save(file.name, file, save=False)
    template.cover_width, template.cover_height = width, height
    VideoTemplate.objects.filter(pk=template.pk).update(
        cover=template.cover.name, cover_width=width, cover_height=height
    )


def template_preview_store(template: VideoTemplate, source: str | BinaryIO) -> None:
    file = preview_file(source)
    template.preview.save(file.name, file, save=False)
    VideoTemplate.objects.filter(pk=template.pk).update(preview=template.preview.name)


@dataclass
class BackfillCounts:
    covers: int = 0
    previews: int = 0
    posters: int = 0
    broken: int = 0  # files that do not decode: left as they are, logged


def posters_backfill() -> BackfillCounts:
    """Bring files stored before posters were made into today's shapes: covers as WebP with
    their size, clips as loops, a poster frame (and width, height, codec) for every stored
    result. Idempotent: a second run finds nothing to do. Old files are deleted once their
    replacement is stored."""
    counts = BackfillCounts()
    for template in VideoTemplate.objects.exclude(cover="").filter(cover_width=None):
        old = template.cover.name
        try:
            with template.cover.open("rb") as fh:
                template_cover_store(template, fh)
        except media.NotAnImage:
            counts.broken += 1
            logger.info("template %s: cover %s is not an image", template.pk, old)
            continue
        template.cover.storage.delete(old)
        counts.covers += 1
    for template in VideoTemplate.objects.exclude(preview=""):
        old = template.preview.name
        storage = template.preview.storage
        with stored.readable(storage, old) as source:
            if media.is_loop(source):
                continue
        try:
            with stored.readable(storage, old) as source:
                template_preview_store(template, source)
        except media.NotAVideo:
            counts.broken += 1
            logger.info("template %s: preview %s does not decode", template.pk, old)
            continue
        storage.delete(old)
        counts.previews += 1
    results = Attachment.objects.filter(kind=AttachmentKind.RESULT, poster=None).exclude(file="")
    for result in results.select_related("job").iterator():
        if result_poster_store(result):
            counts.posters += 1
        else:
            counts.broken += 1
    return counts


def result_poster_store(result: Attachment) -> bool:
    """Cut the poster frame of a stored result and record its facts; False: no video."""
    storage = result.file.storage
    try:
        with stored.readable(storage, result.file.name) as source:
            facts, poster = media.inspect(source)
    except media.NotAVideo:
        logger.info("result %s of job %s does not decode", result.pk, result.job_id)
        return False
    file = ContentFile(poster.data)
    file.content_type = poster.content_type  # type: ignore[attr-defined]
    name = storage.save(
        f"jobs/{result.job.team_id}/{result.job_id}/frame-{uuid.uuid4().hex[:12]}.{poster.ext}",
        file,
    )
    try:
        with transaction.atomic():
            frame = Attachment.objects.create(
                job_id=result.job_id,
                kind=AttachmentKind.FRAME,
                position=0,
                file=name,
                content_type=poster.content_type,
                bytes=len(poster.data),
                width=poster.width,
                height=poster.height,
            )
            Attachment.objects.filter(pk=result.pk).update(
                poster=frame,
                width=facts.width,
                height=facts.height,
                codec=facts.codec,
                duration_s=facts.duration_s,
            )
    except IntegrityError:  # the job has its frame already (a concurrent run): link that
        storage.delete(name)
        existing = Attachment.objects.filter(job_id=result.job_id, kind=AttachmentKind.FRAME)
        Attachment.objects.filter(pk=result.pk).update(poster=existing.values("pk")[:1])
    return True
