"""Validation of the create body, answered by the real API as base_resp 2013 "invalid params"."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .catalogue import TEMPLATES

_DATA_URL = re.compile(r"data:image/(png|jpeg|jpg|webp);base64,(.*)", re.DOTALL)
# FACTS.md: images must be under 20 MB. Pixel size and aspect ratio are not checked here, so
# tests elsewhere may send tiny placeholder images.
MAX_IMAGE_BYTES = 20 * 1024 * 1024


class InvalidParams(Exception):
    """Raised with a status_msg that names the problem."""


@dataclass(frozen=True)
class CreateRequest:
    template_id: str
    text_inputs: list[str]
    media_inputs: list[str]
    callback_url: str | None


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_create(raw: bytes) -> CreateRequest:
    """Parse and validate a create body, raising InvalidParams with a precise message."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidParams("invalid params, request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidParams("invalid params, request body must be a JSON object")

    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not template_id:
        raise InvalidParams("invalid params, template_id is required and must be a string")
    template = TEMPLATES.get(template_id)
    if template is None:
        raise InvalidParams(f"invalid params, unknown template_id {template_id}")

    texts = _values(body, "text_inputs")
    media = _values(body, "media_inputs")
    for field, got, want in (
        ("text_inputs", texts, template.text_inputs),
        ("media_inputs", media, template.media_inputs),
    ):
        if len(got) != want:
            raise InvalidParams(
                f"invalid params, template {template_id} expects {want} {field}, got {len(got)}"
            )
    for i, text in enumerate(texts):
        if not text.strip():
            raise InvalidParams(f"invalid params, text_inputs[{i}].value is empty")
    for i, value in enumerate(media):
        _check_media(i, value)

    callback_url = body.get("callback_url")
    if callback_url in (None, ""):
        callback_url = None
    elif not isinstance(callback_url, str) or not is_http_url(callback_url):
        raise InvalidParams("invalid params, callback_url must be an http(s) URL")
    return CreateRequest(template_id, texts, media, callback_url)


def _values(body: dict, field: str) -> list[str]:
    items = body.get(field)
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidParams(f"invalid params, {field} must be an array")
    values = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise InvalidParams(f"invalid params, {field}[{i}].value must be a string")
        values.append(item["value"])
    return values


def _check_media(index: int, value: str) -> None:
    if is_http_url(value):
        return
    m = _DATA_URL.fullmatch(value)
    if m is None:
        raise InvalidParams(
            f"invalid params, media_inputs[{index}].value must be an http(s) URL or a "
            "data:image/(png|jpeg|jpg|webp);base64 URL"
        )
    try:
        data = base64.b64decode(m.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParams(f"invalid params, media_inputs[{index}] is not valid base64") from None
    if not data:
        raise InvalidParams(f"invalid params, media_inputs[{index}] image is empty")
    if len(data) >= MAX_IMAGE_BYTES:
        raise InvalidParams(f"invalid params, media_inputs[{index}] image must be under 20 MB")
