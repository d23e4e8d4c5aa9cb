"""JSON API: batches. Thin: it turns requests into service calls and back.

Translation of the wire format lives here: the body's hash for Idempotency-Key, each item's
data URLs into uploads (named by their index, `items[3].media_inputs[0]`), the upstream
template id into a template (the one the key, or the team's pool, can run).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated
from uuid import UUID

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Q
from django.http import StreamingHttpResponse
from ninja import Query, Router, Status

from batches import services
from batches.errors import BatchInputError, RowError
from batches.models import Batch
from batches.schemas import (
    BatchDetailOut,
    BatchIn,
    BatchListOut,
    batch_detail_payload,
    batch_payload,
)
from batches.selectors import (
    batch_for_team,
    batch_summaries,
    batch_summary,
    batches_for_team,
    current_items,
)
from batches.services.archive import archive_name, archive_stream, archive_stream_async
from portal import netguard
from portal.api.cursors import cursor_decode, cursor_encode
from portal.api.errors import ApiError, error_responses, refuse_unknown_query
from portal.api.types import IdempotencyKey, binary_content
from portal.errors import FieldError
from videos import images
from videos.errors import JobInputError, NoUsableKeyError
from videos.selectors import templates_active
from videos.services import job_pick_key

router = Router(tags=["batches"])

MAX_LIMIT = 100


def _base_url(request) -> str:
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


def request_hash(payload: BatchIn) -> str:
    canonical = json.dumps(
        payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _source(field: str, value: str) -> services.MediaSource:
    if value.startswith("data:"):
        try:
            raw, content_type = images.decode_data_url(field, value)
        except FieldError as exc:
            return services.MediaSource(problem=exc.message)
        return services.MediaSource(
            upload=SimpleUploadedFile(field, raw, content_type=content_type)
        )
    if value.startswith(("https://", "http://")):
        return services.MediaSource(url=value)
    return services.MediaSource(problem="must be a data:image/...;base64, URL or an http(s) URL")


def _specs(payload: BatchIn) -> list[services.ItemSpec]:
    return [
        services.ItemSpec(
            texts=[t.value for t in item.text_inputs],
            media=[
                _source(f"items[{i}].media_inputs[{j}]", m.value)
                for j, m in enumerate(item.media_inputs)
            ],
            reference=item.reference,
        )
        for i, item in enumerate(payload.items)
    ]


def _template_for(*, user, team, template_id: str, key_id: int | None):
    """Of the templates with this id (one per provider and region), the first the key, or
    else the caller's pool, can run (the rule of POST /videos)."""
    candidates = list(templates_active().filter(template_id=template_id))
    if not candidates:
        raise JobInputError("template_id", "no such template; see GET /api/v1/templates")
    for template in candidates:
        try:
            job_pick_key(user=user, team=team, template=template, key_id=key_id)
        except (JobInputError, NoUsableKeyError):
            continue
        return template
    return candidates[0]  # batch_create answers with job_pick_key's reason


def _batch_of(request, batch_id: UUID) -> Batch:
    # The token's team only: another team's batch is "not found", even for a member of both.
    batch = batch_for_team(team=request.auth.team, batch_id=batch_id)
    if batch is None:
        raise ApiError(404, "not_found", "no such batch")
    return batch


def _detail(request, batch: Batch) -> dict:
    items = list(current_items(batch))
    return batch_detail_payload(batch, batch_summary(batch), items, base_url=_base_url(request))


@router.post(
    "/batches",
    response={201: BatchDetailOut, **error_responses(400, 402, 409, 413, 422)},
    operation_id="batches_create",
    url_name="batch_create",
    summary="Create a batch",
    description=(
        "One job per item, all of one template, admitted as a whole: every item is checked "
        "first (422 lists every bad one by index and field; nothing is made), then the whole "
        "batch against the month's videos and budget (402 with the numbers; nothing is "
        "made). Send the same `Idempotency-Key` again to get the first batch back; the same "
        "key with another body answers 409."
    ),
)
def batch_create(
    request,
    payload: BatchIn,
    idempotency_key: IdempotencyKey = None,
):
    token = request.auth
    body_hash = request_hash(payload) if idempotency_key else ""
    if idempotency_key:
        # A replay answers the first batch whatever changed since (as POST /videos).
        first = services.batch_for_idempotency_key(token.team, idempotency_key, body_hash)
        if first is not None:
            return Status(201, _detail(request, first))
    callback_url = payload.callback_url or ""
    if callback_url:
        try:
            netguard.check_url(callback_url)
        except netguard.UnsafeUrlError as exc:
            raise JobInputError("callback_url", str(exc)) from None
    if len(payload.items) > settings.BATCH_MAX_ITEMS:
        # Said before anything is decoded or fetched.
        raise BatchInputError(
            [
                RowError(
                    index=settings.BATCH_MAX_ITEMS,
                    field="items",
                    message=f"at most {settings.BATCH_MAX_ITEMS} items per batch",
                )
            ],
            message=f"items: at most {settings.BATCH_MAX_ITEMS} items per batch, "
            f"got {len(payload.items)}",
        )
    template = _template_for(
        user=token.user, team=token.team, template_id=payload.template_id, key_id=payload.key_id
    )
    batch = services.batch_create(
        team=token.team,
        user=token.user,
        template=template,
        items=_specs(payload),
        key_id=payload.key_id,
        name=payload.name,
        callback_url=callback_url,
        idempotency_key=idempotency_key or "",
        request_hash=body_hash,
    )
    return Status(201, _detail(request, batch))


@router.get(
    "/batches",
    response={200: BatchListOut, **error_responses(422)},
    operation_id="batches_list",
    url_name="batch_list",
    summary="List batches",
    description="Newest first. Follow `next_cursor` until it is null.",
)
def batch_list(
    request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    refuse_unknown_query(request, "limit", "cursor")
    batches = batches_for_team(team=request.auth.team).order_by("-created_at", "-id")
    if cursor:
        created_at, batch_id = cursor_decode(cursor, pk=UUID)
        batches = batches.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=batch_id)
        )
    page = list(batches[: limit + 1])
    shown = page[:limit]
    summaries = batch_summaries([b.pk for b in shown])
    base_url = _base_url(request)
    return {
        "items": [batch_payload(b, summaries[b.pk], base_url=base_url) for b in shown],
        "next_cursor": (
            cursor_encode(shown[-1].created_at, shown[-1].id) if len(page) > limit else None
        ),
    }


@router.get(
    "/batches/{batch_id}",
    response={200: BatchDetailOut, **error_responses(404, 422)},
    operation_id="batches_get",
    url_name="batch_detail",
    summary="Get a batch",
    description="Its counts per status, cost so far, and every row's current job.",
)
def batch_detail(request, batch_id: UUID):
    return _detail(request, _batch_of(request, batch_id))


@router.post(
    "/batches/{batch_id}/cancel",
    response={200: BatchDetailOut, **error_responses(404, 409, 422)},
    operation_id="batches_cancel",
    url_name="batch_cancel",
    summary="Cancel the rest of a batch",
    description=(
        "Cancels every job not yet sent upstream (and running ones at a provider that can "
        "call them back); the others finish. Nothing is charged for a canceled job. 409 "
        "when no job of the batch is unfinished."
    ),
)
def batch_cancel(request, batch_id: UUID):
    batch = _batch_of(request, batch_id)
    if not batch_summary(batch).in_flight:
        raise ApiError(409, "invalid_state", "every job of this batch has ended already")
    services.batch_cancel(batch=batch)
    return _detail(request, batch)


@router.post(
    "/batches/{batch_id}/retry",
    response={200: BatchDetailOut, **error_responses(402, 404, 409, 422)},
    operation_id="batches_retry",
    url_name="batch_retry",
    summary="Retry a batch's failed jobs",
    description=(
        "A new job for every failed row, with the same inputs (the row's `attempt` goes up; "
        "the failed job stays as it was, not charged). Admitted as a whole against the "
        "month's videos and budget (402 with the numbers). 409 when no job has failed."
    ),
)
def batch_retry(request, batch_id: UUID):
    batch = _batch_of(request, batch_id)
    services.batch_retry_failed(batch=batch, user=request.auth.user)
    return _detail(request, batch)


@router.get(
    "/batches/{batch_id}/archive",
    response={200: None, **error_responses(404, 422)},
    operation_id="batches_archive",
    url_name="batch_archive",
    summary="Download a batch as a ZIP",
    description=(
        "Every video made so far (`0001-<reference>.mp4`, by row) and `manifest.csv` (row, "
        "job_id, status, error, video_file, reference), streamed."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "A ZIP archive",
                "content": binary_content("application/zip"),
            }
        }
    },
)
def batch_archive(request, batch_id: UUID):
    batch = _batch_of(request, batch_id)
    # Under ASGI (production) an async iterator, or Django would buffer the whole ZIP.
    stream = archive_stream_async if isinstance(request, ASGIRequest) else archive_stream
    response = StreamingHttpResponse(stream(batch), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive_name(batch)}"'
    return response
