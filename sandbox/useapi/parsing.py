"""Request bodies: JSON, multipart/form-data or urlencoded, and the agent-create fields.

useapi accepts all three encodings (its docs' own examples post FormData), so each is reduced
to one flat ``{name: value}`` dict before validation; form values are always strings, hence
``maxJobs`` is accepted as a string of digits too.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .answers import UseapiError

MAX_REPLY_CHARS = 1024  # replyUrl and replyRef, per the agent-create docs
MAX_JOBS_RANGE = range(1, 11)  # "Valid range: 1…10"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def parse_fields(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode a body into a flat dict; a body in none of the accepted forms answers 400."""
    kind = media_type(content_type)
    if kind == "multipart/form-data":
        return _multipart(raw, content_type or "")
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise UseapiError(400, "Form body is not valid UTF-8") from None
    # JSON is the documented default; a missing Content-Type is read as JSON too.
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise UseapiError(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise UseapiError(400, "Request body must be a JSON object")
    return body


def _multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    # The email package parses multipart MIME without the deprecated cgi module.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise UseapiError(400, "Malformed multipart/form-data body")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            continue  # a nested multipart, which no useapi field is
        try:
            fields[name] = payload.decode()
        except UnicodeDecodeError:
            raise UseapiError(400, f"Field {name} is not valid UTF-8") from None
    return fields


@dataclass(frozen=True)
class CreateRequest:
    template_id: str
    prompt: str
    file_id: str
    oss_path: str
    reply_url: str
    reply_ref: str
    max_jobs: int | None
    account: str


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a JSON number for templateId or account is still an id
    if not isinstance(value, str):
        raise UseapiError(400, f"{name} must be a string")
    return value  # kept verbatim: replyRef and prompt come back exactly as sent


def _max_jobs(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    # bool is an int in Python; true/false is not a job count.
    if isinstance(value, bool) or not isinstance(value, int) or value not in MAX_JOBS_RANGE:
        raise UseapiError(400, "maxJobs must be an integer between 1 and 10")
    return value


def parse_create(fields: dict[str, Any]) -> CreateRequest:
    """Check the shape of an agent-create request (template and file lookups come later)."""
    template_id = _text(fields, "templateId").strip()
    if not template_id:
        raise UseapiError(400, "templateId is required")
    file_id, oss_path = _text(fields, "fileID").strip(), _text(fields, "ossPath").strip()
    if oss_path and not file_id:
        raise UseapiError(400, "ossPath cannot be provided without fileID")
    if file_id and not oss_path:
        raise UseapiError(400, "ossPath is required when using fileID")
    reply_url, reply_ref = _text(fields, "replyUrl").strip(), _text(fields, "replyRef")
    for name, value in (("replyUrl", reply_url), ("replyRef", reply_ref)):
        if len(value) > MAX_REPLY_CHARS:
            raise UseapiError(400, f"{name} must be at most {MAX_REPLY_CHARS} characters")
    return CreateRequest(
        template_id=template_id,
        prompt=_text(fields, "prompt"),
        file_id=file_id,
        oss_path=oss_path,
        reply_url=reply_url,
        reply_ref=reply_ref,
        max_jobs=_max_jobs(fields.get("maxJobs")),
        account=_text(fields, "account").strip(),
    )
