"""Checks of a job's text and media inputs against its template and provider's rules, and the
signed links through which an upstream fetches a stored input image."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, cast

from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from videos import images
from videos.errors import JobInputError
from videos.providers.base import InputRules

if TYPE_CHECKING:
    from videos.models import VideoTemplate

INPUT_URL_MAX_AGE = 24 * 3600
_SIGNER_SALT = "videos.input-image"


@dataclass(frozen=True)
class MediaInput:
    """One image for a new job: an uploaded file, or a public http(s) URL passed through."""

    upload: UploadedFile | None = None
    url: str = ""


def check_texts(template: VideoTemplate, values: list[str], rules: InputRules) -> list[str]:
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
        if len(value) > rules.max_text:
            raise JobInputError(field, f"at most {rules.max_text} characters, got {len(value)}")
        # The upstream refuses invisible characters (MiniMax error 1042): say so before sending.
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


def check_media(field: str, media: MediaInput, rules: InputRules) -> images.CheckedImage | None:
    if media.upload is None:
        url = media.url
        if not url.startswith(("https://", "http://")) or len(url) > 2000:
            raise JobInputError(field, "must be an uploaded image or an http(s) URL")
        if not rules.media_urls:
            # The caller (the JSON API) fetches such images first; a URL here is a bug's.
            raise JobInputError(field, "this provider needs the image itself, not a link")
        return None
    try:
        upload = cast(BinaryIO, media.upload)  # a Django file: read, seek and tell
        return images.check_image(field, upload, media.upload.size or 0, rules.image)
    except images.ImageRuleError as exc:
        raise JobInputError(exc.field, exc.message) from None


def input_url_path(attachment_id: int) -> str:
    token = signing.TimestampSigner(salt=_SIGNER_SALT).sign(str(attachment_id))
    return reverse("videos:input_image", args=[token])


def attachment_id_from_token(token: str) -> int | None:
    try:
        value = signing.TimestampSigner(salt=_SIGNER_SALT).unsign(token, max_age=INPUT_URL_MAX_AGE)
    except signing.BadSignature:
        return None
    return int(value)
