"""A template's cover and preview, kept in the shapes the pages show: the cover as a WebP
poster (at most 640 px wide, its size recorded for the width/height attributes), the clip as
a short muted loop (videos.media.make_loop). Used by the catalogue sync and the admin."""

from __future__ import annotations

from typing import BinaryIO

from django.core.files.base import ContentFile

from videos import media
from videos.models import VideoTemplate


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
