"""JSON API: videos. Thin: it turns requests into service calls and back.

What lives here rather than in videos.services is translation of the wire format: the body's
hash for Idempotency-Key, data URLs into uploads, the upstream template id into a template.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.db.models import Prefetch
from django.http import FileResponse, StreamingHttpResponse
from ninja import Header, Path, Query, Router, Status

from portal import netguard
from portal.api.errors import ApiError, error_responses, refuse_unknown_query
from portal.api.types import IdempotencyKey, binary_content
from videos import images, remote_images, services
from videos.api.schemas import MAX_ID, JobListOut, JobOut, VideoIn, job_payload
from videos.errors import JobInputError, NoUsableKeyError
from videos.models import Attachment, AttachmentKind, Job, JobStatus, VideoTemplate
from videos.providers import provider_for
from videos.selectors import jobs_for_team, jobs_page, queue_spots, templates_active
from videos.services.streams import stream_open
from videos.sse import job_event_stream, job_event_stream_async

router = Router(tags=["videos"])

MAX_LIMIT = 100


# --- Creating a video ----------------------------------------------------------------------


def request_hash(payload: VideoIn) -> str:
    """sha256 of the body as canonical JSON: same content, same hash, however it was spelled."""
    canonical = json.dumps(
        payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _media_input(index: int, value: str) -> services.MediaInput:
    field = f"media_inputs[{index}]"
    if value.startswith("data:"):
        raw, content_type = images.decode_data_url(field, value)  # a FieldError: 422
        # The same checks as an upload (videos.inputs.check_media): the content decides.
        return services.MediaInput(
            upload=SimpleUploadedFile(f"input-{index}", raw, content_type=content_type)
        )
    if value.startswith(("https://", "http://")):
        return services.MediaInput(url=value)
    raise JobInputError(field, "must be a data:image/...;base64, URL or an http(s) URL")


def _templates_for(template_id: str) -> list[VideoTemplate]:
    candidates = list(templates_active().filter(template_id=template_id))
    if not candidates:
        raise JobInputError("template_id", "no such template; see GET /api/v1/templates")
    return candidates


def _template_for_keys(
    *, user, team, candidates, key_id: int | None
) -> tuple[VideoTemplate, services.KeyChoice | None]:
    """Of the templates with this id (one per provider and region), the first that the given
    key, or else the caller's pool, can run: by the one rule job_create applies
    (services.job_pick_key), and the key it chose, for job_create not to ask again."""
    for template in candidates:
        try:
            key = services.job_pick_key(user=user, team=team, template=template, key_id=key_id)
        except (JobInputError, NoUsableKeyError):
            continue
        return template, services.KeyChoice(template_id=template.pk, key_id=key_id, key=key)
    # No template has a usable key: job_create checks the inputs first, then answers with
    # job_pick_key's reason for the first one (422 on key_id, or 400 NoUsableKeyError).
    return candidates[0], None


def _check_callback_url(url: str) -> str:
    try:
        netguard.check_url(url)
    except netguard.UnsafeUrlError as exc:
        raise JobInputError("callback_url", str(exc)) from None
    return url


@router.post(
    "/videos",
    response={201: JobOut, **error_responses(400, 402, 409, 413, 422)},
    summary="Create a video",
    operation_id="videos_create",
    description=(
        "Send the same `Idempotency-Key` again to get the first job back (nothing new is made "
        "or charged); the same key with a different body answers 409. Keys are per team."
    ),
)
def video_create(
    request,
    payload: VideoIn,
    idempotency_key: IdempotencyKey = None,
):
    token = request.auth
    body_hash = request_hash(payload) if idempotency_key else ""
    if idempotency_key:
        # A replay answers the first job whatever changed since (the key went invalid, the
        # template was withdrawn, the quota ran out): looked up before any check, as Stripe
        # does. Another body with the same key is a 409.
        first = services.job_for_idempotency_key(token.team, idempotency_key, body_hash)
        if first is not None:
            return Status(201, job_payload(first, base_url=_base_url(request)))
    candidates = _templates_for(payload.template_id)
    media = [_media_input(i, m.value) for i, m in enumerate(payload.media_inputs)]
    callback_url = _check_callback_url(payload.callback_url) if payload.callback_url else ""
    template, key_choice = _template_for_keys(
        user=token.user, team=token.team, candidates=candidates, key_id=payload.key_id
    )
    if not provider_for(template.provider).rules.media_urls:
        # This upstream needs the image itself: fetch it now, and check it like an upload.
        media = [
            services.MediaInput(upload=remote_images.fetch(f"media_inputs[{i}]", m.url))
            if m.url
            else m
            for i, m in enumerate(media)
        ]
    job = services.job_create(
        team=token.team,
        user=token.user,
        template=template,
        text_inputs=[t.value for t in payload.text_inputs],
        media_inputs=media,
        key_id=payload.key_id,
        reference=payload.reference,
        callback_url=callback_url,
        idempotency_key=idempotency_key or "",
        request_hash=body_hash,
        key_choice=key_choice,
    )
    return Status(201, job_payload(job, base_url=_base_url(request)))


# --- Reading videos ------------------------------------------------------------------------


def _base_url(request) -> str:
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


def _with_results(queryset):
    return queryset.prefetch_related(
        Prefetch(
            "attachments",
            queryset=Attachment.objects.filter(kind=AttachmentKind.RESULT),
            to_attr="results",
        )
    )


def _job_of(request, video_id: UUID) -> Job:
    # The token's team only: another team's job is "not found", even for a member of both.
    job = jobs_for_team(team=request.auth.team).filter(pk=video_id).first()
    if job is None:
        raise ApiError(404, "not_found", "no such video")
    return job


@router.get(
    "/videos",
    response={200: JobListOut, **error_responses(422)},
    summary="List videos",
    operation_id="videos_list",
    description="Newest first. Follow `next_cursor` until it is null.",
)
def video_list(
    request,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    refuse_unknown_query(request, "status", "limit", "cursor")
    jobs = jobs_for_team(team=request.auth.team)
    if status:
        jobs = jobs.filter(status=status)
    # Keyset pagination on (created_at, id): stable while new jobs keep arriving.
    page = jobs_page(_with_results(jobs), limit=limit, after=cursor)
    base_url = _base_url(request)
    spots = queue_spots(page.object_list)
    return {
        "items": [job_payload(job, base_url=base_url, spots=spots) for job in page.object_list],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/videos/{video_id}",
    response={200: JobOut, **error_responses(404, 422)},
    summary="Get a video",
    operation_id="videos_get",
)
def video_detail(request, video_id: UUID):
    return job_payload(_job_of(request, video_id), base_url=_base_url(request))


@router.post(
    "/videos/{video_id}/cancel",
    response={200: JobOut, **error_responses(404, 409, 422)},
    summary="Cancel a video",
    operation_id="videos_cancel",
    description=(
        "Before it was sent upstream (status `queued`), or while it runs at a provider that "
        "can call a task back (useapi.net); otherwise 409. Nothing is charged for it."
    ),
)
def video_cancel(request, video_id: UUID):
    job = services.job_cancel(job=_job_of(request, video_id))
    return job_payload(job, base_url=_base_url(request))


def _release_connection() -> None:
    if not connection.in_atomic_block:  # a test's transaction has nothing to give back
        connection.close()


@router.get(
    "/videos/{video_id}/events",
    response={200: None, **error_responses(404, 422, 429)},
    summary="Stream a video's events",
    operation_id="videos_events",
    description=(
        "Server-sent events from the job's timeline until it is finished: `id` is the event "
        "id, `event` its kind (status, progress, error, video, note; `done` at the end), "
        "`data` JSON. Reconnect with `Last-Event-ID` to resume; `: ping` comments keep idle "
        "streams open."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "text/event-stream",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    },
)
async def video_events(
    request,
    video_id: UUID,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    resume_after: Annotated[
        str | None,
        Query(
            alias="last_event_id",
            max_length=20,
            description="Same as the Last-Event-ID header, for clients that cannot set headers.",
        ),
    ] = None,
):
    refuse_unknown_query(request, "last_event_id")
    token = request.auth
    job = await sync_to_async(_job_of)(request, video_id)
    stream_id = await sync_to_async(stream_open)(
        token_id=token.pk, team_id=token.team_id, job_id=job.id
    )
    # Django gives the request's connection back only when the response ends, hours of
    # streams later: a thousand open streams would hold a thousand idle connections.
    await sync_to_async(_release_connection)()
    after = last_event_id or resume_after or "0"
    # Under ASGI (production) the stream holds no thread while idle; a WSGI server
    # (runserver, the test client) needs a plain iterator, which it serves as it goes.
    stream = job_event_stream_async if isinstance(request, ASGIRequest) else job_event_stream
    response = StreamingHttpResponse(
        stream(
            job_id=job.id,
            after_id=int(after) if after.isascii() and after.isdigit() else 0,
            base_url=_base_url(request),
            stream_id=stream_id,
        ),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response


@router.get(
    "/videos/{video_id}/download",
    response={200: None, **error_responses(404, 422)},
    url_name="video_download",
    summary="Download the video",
    operation_id="videos_download",
    openapi_extra={
        "responses": {
            200: {
                "description": "The stored video file",
                "content": binary_content("video/mp4"),
            }
        }
    },
)
def video_download(request, video_id: UUID):
    job = _job_of(request, video_id)
    result = job.result
    if result is None or not result.file:
        raise ApiError(404, "not_ready", f"this video has no file yet (status: {job.status})")
    return FileResponse(
        result.file.open("rb"),
        content_type=result.content_type,
        as_attachment=True,
        filename=f"{job.id}.mp4",
    )


@router.get(
    "/videos/{video_id}/files/{file_id}",
    response={200: None, **error_responses(404, 422)},
    url_name="video_file",
    summary="Get one of a video's images",
    operation_id="video_files_get",
    description=(
        "An input image, the poster, or an image the upstream made on the way; their ids "
        "come with the `image` events of the video's event stream."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "The stored image",
                "content": binary_content("image/*"),
            }
        }
    },
)
def video_file(request, video_id: UUID, file_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    job = _job_of(request, video_id)
    attachment = (
        job.attachments.exclude(kind=AttachmentKind.RESULT)
        .exclude(file="")
        .filter(pk=file_id)
        .first()
    )
    if attachment is None:
        raise ApiError(404, "not_found", "no such file for this video")
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
