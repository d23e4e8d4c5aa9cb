"""Checks of a job's text and media inputs against its template, and what is sent upstream."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.urls import reverse

from videos import images
from videos.errors import JobInputError

if TYPE_CHECKING:
    from videos.models import Job, VideoTemplate
    from videos.services import MediaInput

MAX_TEXT = 500
INPUT_URL_MAX_AGE = 24 * 3600
_SIGNER_SALT = "videos.input-image"


def check_texts(template: VideoTemplate, values: list[str]) -> list[str]:
    if len(values) != template.text_inputs:
        raise JobInputError(
            "text_inputs",
            f"{template.name} takes {template.text_inputs} text input(s), got {len(values)}",
        )
    cleaned = []
    for i, value in enumerate(values):
        field = f"text_inputs[{i}]"
        value = (value or "").strip()
        if not value:
            raise JobInputError(field, "must not be empty")
        if len(value) > MAX_TEXT:
            raise JobInputError(field, f"at most {MAX_TEXT} characters, got {len(value)}")
        # The upstream refuses invisible characters (error 1042): say so before sending.
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            raise JobInputError(field, "contains invisible or control characters")
        cleaned.append(value)
    return cleaned


def check_media_count(template: VideoTemplate, media: list[MediaInput]) -> None:
    if len(media) != template.media_inputs:
        raise JobInputError(
            "media_inputs",
            f"{template.name} takes {template.media_inputs} image(s), got {len(media)}",
        )


def check_media(field: str, media: MediaInput) -> images.CheckedImage | None:
    if media.upload is None:
        url = media.url
        if not url.startswith(("https://", "http://")) or len(url) > 2000:
            raise JobInputError(field, "must be an uploaded image or an http(s) URL")
        return None
    try:
        return images.check_image(field, media.upload, media.upload.size)
    except images.ImageRuleError as exc:
        raise JobInputError(exc.field, exc.message) from None


def media_values(job: Job) -> list[str]:
    """The upstream's media_inputs values: public URLs when it can reach us, else data URLs."""
    from videos.models import AttachmentKind

    stored = {a.position: a for a in job.attachments.filter(kind=AttachmentKind.INPUT)}
    values = []
    for position, url in enumerate(job.media_urls):
        if url:
            values.append(url)
            continue
        attachment = stored[position]
        if settings.PUBLIC_BASE_URL:
            values.append(settings.PUBLIC_BASE_URL + input_url_path(attachment.pk))
        else:
            with attachment.file.open("rb") as fh:
                values.append(images.to_data_url(attachment.content_type, fh.read()))
    return values


def input_url_path(attachment_id: int) -> str:
    token = signing.TimestampSigner(salt=_SIGNER_SALT).sign(str(attachment_id))
    return reverse("videos:input_image", args=[token])


def attachment_id_from_token(token: str) -> int | None:
    try:
        value = signing.TimestampSigner(salt=_SIGNER_SALT).unsign(token, max_age=INPUT_URL_MAX_AGE)
    except signing.BadSignature:
        return None
    return int(value)
